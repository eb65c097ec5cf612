//! The commit: code swaps, line shifts and deletions held back while a file's steps run are
//! made together, with no Python code running, so another thread never sees some done and
//! others not. Then closures made from changed nested code follow, and objects that asked
//! (`__conform__`) are told.

use std::collections::{BTreeMap, HashMap, HashSet};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyFunction, PyModule, PyTuple};

use super::capi::{code_of, defaults_of};
use super::live_objects::LiveObjects;
use super::plan::{Moved, Namespace};
use super::undo::Undo;

/// Swaps and deletions waiting for the commit.
#[derive(Default)]
pub struct Pending<'py> {
    pub swaps: Vec<PendingSwap<'py>>,
    pub deletes: Vec<PendingDelete<'py>>,
    /// Names of the functions swapped or deleted.
    pub names: HashSet<String>,
    pub moves: Vec<Moved<'py>>,
    /// Closures made earlier that keep their old code, by qualified name.
    pub closures_kept_old: BTreeMap<String, usize>,
}

/// Every function using one of `old` codes gets `new_code`.
pub struct PendingSwap<'py> {
    pub old: Vec<Bound<'py, PyAny>>,
    pub new_code: Bound<'py, PyAny>,
    /// A function made from the new definition, holding its new defaults.
    pub new_defaults: Option<Bound<'py, PyAny>>,
}

/// `name` leaves each of `namespaces`; `old` are its codes.
pub struct PendingDelete<'py> {
    pub namespaces: Vec<Namespace<'py>>,
    pub name: String,
    pub old: Vec<Bound<'py, PyAny>>,
}

/// A code object given new code (or deleted, `new` = None) by the batch.
pub struct Replaced<'py> {
    old: Bound<'py, PyAny>,
    new: Option<Bound<'py, PyAny>>,
    /// Nested in a function: closures made from it exist only on the heap.
    nested: bool,
}

/// Makes every pending swap and deletion at once. Only C-level attribute and dict writes
/// happen here, and the cyclic collector is paused (a finalizer is Python code): without
/// Python code running, the interpreter never hands the GIL to another thread halfway.
pub fn commit<'py>(
    py: Python<'py>,
    lives: &[LiveObjects<'py>],
    pending: &mut Pending<'py>,
    undo: &mut Undo,
    replaced: &mut Vec<Replaced<'py>>,
) -> PyResult<()> {
    if pending.swaps.is_empty() && pending.deletes.is_empty() && pending.moves.is_empty() {
        return Ok(());
    }
    let _collector_paused = CollectorPause::new(py)?;
    let first = replaced.len();
    let swapped: HashSet<usize> = pending
        .swaps
        .iter()
        .flat_map(|swap| swap.old.iter().map(|code| code.as_ptr() as usize))
        .collect();
    // A function is in its own file's live objects only: the maps do not overlap.
    let mut by_code = HashMap::new();
    for live in lives {
        by_code.extend(live.users_of(&swapped));
    }
    for swap in pending.swaps.drain(..) {
        for old_code in &swap.old {
            let users = by_code.get(&(old_code.as_ptr() as usize));
            for function in users.into_iter().flatten() {
                undo.record_function(function)?;
                function.setattr(intern!(py, "__code__"), &swap.new_code)?;
                if let Some(source) = &swap.new_defaults {
                    let (defaults, kwdefaults) = defaults_of(source)?;
                    function.setattr(intern!(py, "__defaults__"), defaults)?;
                    function.setattr(intern!(py, "__kwdefaults__"), kwdefaults)?;
                }
                update_docstring(function, old_code, &swap.new_code)?;
            }
            record_replaced(old_code, &swap.new_code, true, replaced)?;
        }
    }
    // Lean: a module of 100,000 functions moves them all when a line is added at its top.
    for moved in pending.moves.drain(..) {
        for function in &moved.users {
            undo.record_code(function)?;
            function.setattr(intern!(py, "__code__"), &moved.new)?;
        }
        record_replaced(&moved.old, &moved.new, moved.nested, replaced)?;
    }
    for delete in pending.deletes.drain(..) {
        for namespace in &delete.namespaces {
            delete_name(namespace, &delete.name, undo)?;
        }
        for old_code in delete.old {
            replaced.push(Replaced {
                old: old_code,
                new: None,
                nested: false,
            });
        }
    }
    pending.names.clear();
    update_closures(py, &replaced[first..], undo, &mut pending.closures_kept_old)
}

/// Records that `old` became `new`, and (if it may hold any) its nested code objects too:
/// closures made from them are updated at the end of the commit.
fn record_replaced<'py>(
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    nested: bool,
    replaced: &mut Vec<Replaced<'py>>,
) -> PyResult<()> {
    if nested {
        let mut pairs = Vec::new();
        pair_nested(old, new, &mut pairs)?;
        for (old_nested, new_nested) in pairs {
            replaced.push(Replaced {
                nested: is_closure_code(&old_nested)?,
                old: old_nested,
                new: Some(new_nested),
            });
        }
    }
    replaced.push(Replaced {
        old: old.clone(),
        new: Some(new.clone()),
        nested: false,
    });
    Ok(())
}

/// Pairs the nested code objects of two versions of a function, by name and order, as
/// (old, new).
fn pair_nested<'py>(
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    out: &mut Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<()> {
    let children = |code: &Bound<'py, PyAny>| -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
        let mut found = Vec::new();
        for constant in code.getattr(intern!(code.py(), "co_consts"))?.try_iter()? {
            let constant = constant?;
            if constant.is_instance_of::<PyCode>() {
                let name = constant
                    .getattr(intern!(constant.py(), "co_name"))?
                    .extract()?;
                found.push((name, constant));
            }
        }
        Ok(found)
    };
    let mut new_children = children(new)?;
    for (name, old_child) in children(old)? {
        if let Some(index) = new_children.iter().position(|(n, _)| *n == name) {
            let (_, new_child) = new_children.remove(index);
            pair_nested(&old_child, &new_child, out)?;
            out.push((old_child, new_child));
        }
    }
    Ok(())
}

/// Pauses the cyclic garbage collector while alive (if it was running).
pub struct CollectorPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> CollectorPause<'py> {
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(CollectorPause { gc: None });
        }
        gc.call_method0("disable")?;
        Ok(CollectorPause { gc: Some(gc) })
    }
}

impl Drop for CollectorPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            // gc.enable() does not fail; a drop could not report it anyway.
            let _ = gc.call_method0("enable");
        }
    }
}

/// A docstring that came from the code (not one set by a decorator) follows it.
fn update_docstring(
    function: &Bound<'_, PyAny>,
    old_code: &Bound<'_, PyAny>,
    new_code: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = function.py();
    let first_constant = |code: &Bound<'_, PyAny>| -> PyResult<Option<usize>> {
        let constants = code.getattr(intern!(py, "co_consts"))?;
        Ok(constants
            .get_item(0)
            .ok()
            .map(|first| first.as_ptr() as usize))
    };
    // The same docstring object (the code only moved): nothing to follow.
    if first_constant(old_code)? == first_constant(new_code)? {
        return Ok(());
    }
    let docstring = |code: &Bound<'_, PyAny>| -> PyResult<Option<String>> {
        let constants = code.getattr(intern!(py, "co_consts"))?;
        Ok(match constants.get_item(0) {
            Ok(first) => first.extract::<String>().ok(),
            Err(_) => None,
        })
    };
    let current: Option<String> = function.getattr(intern!(py, "__doc__"))?.extract().ok();
    if current == docstring(old_code)? {
        function.setattr(intern!(py, "__doc__"), docstring(new_code)?)?;
    }
    Ok(())
}

fn delete_name(namespace: &Namespace<'_>, name: &str, undo: &mut Undo) -> PyResult<()> {
    match namespace {
        Namespace::Module(module) => {
            undo.record_module(module)?;
            let dict = module.dict();
            if dict.contains(name)? {
                dict.del_item(name)?;
            }
        }
        Namespace::Class(class) => {
            let own = class.getattr(intern!(class.py(), "__dict__"))?;
            if own.contains(name)? {
                undo.record_attribute(class.as_any(), name, own.get_item(name)?.unbind());
                class.delattr(name)?;
            }
        }
    }
    Ok(())
}

/// Existing closures made from changed or moved nested code get the new code. They are
/// found by one heap scan per commit, and only for nested functions and lambdas.
/// Closures whose new code captures other names cannot take it: `kept_old` counts them,
/// by qualified name, for a note.
fn update_closures<'py>(
    py: Python<'py>,
    replaced: &[Replaced<'py>],
    undo: &mut Undo,
    kept_old: &mut BTreeMap<String, usize>,
) -> PyResult<()> {
    let nested: Vec<&Bound<'py, PyAny>> = replaced
        .iter()
        .filter(|r| r.nested)
        .map(|r| &r.old)
        .collect();
    if nested.is_empty() {
        return Ok(());
    }
    let by_id = new_code_by_old(replaced);
    let mut seen = HashSet::new();
    let referrers = py
        .import("gc")?
        .getattr("get_referrers")?
        .call1(PyTuple::new(py, nested)?)?;
    for object in referrers.try_iter()? {
        let object = object?;
        if !object.is_instance_of::<PyFunction>() {
            continue;
        }
        let code = code_of(&object)?;
        if let Some(Some(new)) = by_id.get(&(code.as_ptr() as usize))
            && seen.insert(object.as_ptr() as usize)
        {
            if fits(&object, new)? {
                undo.record_function(&object)?;
                object.setattr(intern!(py, "__code__"), *new)?;
            } else {
                let name: String = code
                    .getattr(intern!(py, "co_qualname"))
                    .or_else(|_| code.getattr(intern!(py, "co_name")))?
                    .extract()?;
                *kept_old.entry(name).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// Objects that asked to be told (`__conform__`) get the new code, or `None` for a deleted
/// function. That is their own Python code, so it runs after the commit.
pub fn notify_conformers<'py>(
    py: Python<'py>,
    live: &LiveObjects<'py>,
    replaced: &[Replaced<'py>],
) -> PyResult<()> {
    if live.conformers.is_empty() {
        return Ok(());
    }
    let by_id = new_code_by_old(replaced);
    for conformer in &live.conformers {
        let referents = py
            .import("gc")?
            .getattr("get_referents")?
            .call1((conformer,))?;
        for referent in referents.try_iter()? {
            let referent = referent?;
            if let Some(new) = by_id.get(&(referent.as_ptr() as usize)) {
                let argument = match new {
                    Some(code) => (*code).clone(),
                    None => py.None().into_bound(py),
                };
                conformer.call_method1("__conform__", (argument,))?;
            }
        }
    }
    Ok(())
}

/// Old code object (by address) to its replacement.
fn new_code_by_old<'a, 'py>(
    replaced: &'a [Replaced<'py>],
) -> HashMap<usize, Option<&'a Bound<'py, PyAny>>> {
    replaced
        .iter()
        .map(|r| (r.old.as_ptr() as usize, r.new.as_ref()))
        .collect()
}

/// A nested function or lambda can have live closures; comprehensions and class bodies
/// cannot, so they never cost a heap scan.
fn is_closure_code(code: &Bound<'_, PyAny>) -> PyResult<bool> {
    const CO_OPTIMIZED: i64 = 0x1;
    let name: String = code.getattr(intern!(code.py(), "co_name"))?.extract()?;
    let flags: i64 = code.getattr(intern!(code.py(), "co_flags"))?.extract()?;
    let comprehension = matches!(
        name.as_str(),
        "<listcomp>" | "<dictcomp>" | "<setcomp>" | "<genexpr>"
    );
    Ok(flags & CO_OPTIMIZED != 0 && !comprehension)
}

/// A closure can take new code only if it captures the same names.
fn fits(function: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) -> PyResult<bool> {
    code_of(function)?
        .getattr(intern!(function.py(), "co_freevars"))?
        .eq(new.getattr(intern!(new.py(), "co_freevars"))?)
}
