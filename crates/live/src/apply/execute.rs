//! Running a file's prepared steps in order, as the module itself would run: statements
//! and new definitions run in their module or class namespace, and code swaps wait in
//! `Pending` for the next commit.

use std::collections::HashSet;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFunction, PyModule};

use super::Report;
use super::capi::code_of;
use super::class_namespace::{BindThrough, ClassNamespace};
use super::commit::{Pending, PendingDelete, PendingSwap, Replaced, commit};
use super::compile::child_code;
use super::live_objects::{LiveModule, LiveObjects};
use super::plan::{ExecTarget, Namespace, NewDefaults, Rebuilt, Step};
use super::undo::Undo;
use crate::hooks::{self, Binder, Binding};

/// The file whose steps run, and the live objects of every file of the batch.
pub struct File<'a, 'py> {
    pub modules: &'a [LiveModule<'py>],
    pub live: &'a LiveObjects<'py>,
    pub lives: &'a [LiveObjects<'py>],
}

/// Runs one file's prepared steps in order. Code swaps and deletions are held back in
/// `pending`, shared by the files of the batch, and made together in one commit, in which
/// no Python code runs, so another thread never sees some of them done and others not. A
/// changed statement first commits what is pending above it (it may call those functions;
/// a file before it counts), and so does a new definition that uses one. Statements and
/// new definitions are the user's code: other threads may run while they do (the GIL is
/// never held hostage).
pub fn execute<'py>(
    py: Python<'py>,
    file: File<'_, 'py>,
    steps: Vec<Step<'py>>,
    pending: &mut Pending<'py>,
    replaced: &mut Vec<Replaced<'py>>,
    undo: &mut Undo,
    reports: &mut Vec<Report>,
) -> PyResult<()> {
    let File {
        modules,
        live,
        lives,
    } = file;
    let binder = hooks::binder();
    for step in steps {
        match step {
            Step::Swap {
                name,
                old,
                new_code,
                defaults,
                report,
            } => {
                // Evaluating new defaults runs the user's expressions: before the commit.
                let new_defaults = match defaults {
                    Some(defaults) => Some(scratch_function(py, &defaults, &modules[0].module)?),
                    None => None,
                };
                // Unnamed: only its line numbers moved, nothing a statement could see.
                if !name.is_empty() {
                    pending.names.insert(name);
                }
                pending.swaps.push(PendingSwap {
                    old,
                    new_code,
                    new_defaults,
                });
                reports.extend(report);
            }
            Step::Exec {
                code,
                defines,
                targets,
                mentions,
                rebuilt,
                report,
            } => {
                // A statement sees every change above it, as the module would run. A new
                // definition only binds a name nothing calls yet, unless its decorators,
                // defaults or class body use a function changed above it.
                if defines.is_none() || !pending.names.is_disjoint(&mentions) {
                    commit(py, lives, pending, undo, replaced)?;
                }
                for target in &targets {
                    // A binder that asks for the definition gets it before it is bound: no
                    // other thread ever sees what it would have replaced.
                    let through = match (&binder, defines.as_deref()) {
                        (Some(binder), Some(name)) if binder.binds(&binding(target, name)) => {
                            Some((Arc::clone(binder), name))
                        }
                        _ => None,
                    };
                    run_in(py, &code, target, through, undo)?;
                    if let Some(rebuilt) = &rebuilt {
                        forward_to_rebuilt(py, live, rebuilt, target, undo)?;
                    }
                }
                reports.push(report);
            }
            Step::Delete {
                namespaces,
                name,
                old,
                report,
            } => {
                pending.names.insert(name.clone());
                pending.deletes.push(PendingDelete {
                    namespaces,
                    name,
                    old,
                });
                reports.push(report);
            }
            Step::Shift(moves) => pending.moves.extend(moves),
            Step::Report(report) => reports.push(report),
        }
    }
    Ok(())
}

/// The binding of `name` in `target`'s namespace.
fn binding<'a, 'py>(target: &'a ExecTarget<'py>, name: &'a str) -> Binding<'a, 'py> {
    Binding {
        module: &target.module,
        class: match &target.namespace {
            Namespace::Module(_) => None,
            Namespace::Class(class) => Some(class),
        },
        name,
    }
}

/// Runs a definition's code in a scratch namespace and returns the function it defines,
/// for its new defaults (evaluated where the def stands: class names are visible).
fn scratch_function<'py>(
    py: Python<'py>,
    defaults: &NewDefaults<'py>,
    module: &Bound<'py, PyModule>,
) -> PyResult<Bound<'py, PyAny>> {
    let scratch = PyDict::new(py);
    if let Namespace::Class(class) = &defaults.namespace {
        // Class-level names are readable, as in the class body.
        scratch.update(
            class
                .getattr("__dict__")?
                .call_method0("copy")?
                .cast_into::<PyDict>()?
                .as_mapping(),
        )?;
    }
    py.import("builtins")?
        .getattr("exec")?
        .call1((&defaults.code, module.dict(), &scratch))?;
    scratch.get_item(&defaults.name)?.ok_or_else(|| {
        PyRuntimeError::new_err(format!(
            "the new definition of {} did not define it",
            defaults.name
        ))
    })
}

/// Runs `code` in `target`'s namespace. `through`: a binder, and the name of the new
/// definition it binds.
fn run_in<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyAny>,
    target: &ExecTarget<'py>,
    through: Option<(Arc<dyn Binder>, &str)>,
    undo: &mut Undo,
) -> PyResult<()> {
    let exec = py.import("builtins")?.getattr("exec")?;
    match &target.namespace {
        Namespace::Module(module) => {
            undo.record_module(module)?;
            let Some((binder, name)) = through else {
                exec.call1((code, module.dict()))?;
                return Ok(());
            };
            // The definition binds its name in a scratch namespace (its globals are still
            // the module's), then what the binder gives goes into the module.
            let scratch = PyDict::new(py);
            exec.call1((code, module.dict(), &scratch))?;
            for (key, value) in scratch.iter() {
                let value = if key.extract::<&str>().is_ok_and(|key| key == name) {
                    binder.bind(&binding(target, name), value)?
                } else {
                    value
                };
                module.dict().set_item(key, value)?;
            }
        }
        Namespace::Class(class) => {
            let through = through.map(|(binder, name)| BindThrough {
                binder,
                name: name.to_string(),
                module: target.module.clone().unbind(),
            });
            let namespace = Bound::new(py, ClassNamespace::new(class.clone().unbind(), through))?;
            undo.record_class_body(namespace.clone().unbind());
            exec.call1((code, target.module.dict(), &namespace))?;
            namespace.borrow().bind_class_cell(py)?;
        }
    }
    Ok(())
}

/// Gives the old function objects of a rebuilt function (those of `target`'s module) code
/// that calls the rebuilt one, so every reference taken earlier runs the new code. The new
/// function is found under its name in the target's namespace, through decorators.
fn forward_to_rebuilt<'py>(
    py: Python<'py>,
    live: &LiveObjects<'py>,
    rebuilt: &Rebuilt<'py>,
    target: &ExecTarget<'py>,
    undo: &mut Undo,
) -> PyResult<()> {
    let bound = match &target.namespace {
        Namespace::Module(module) => module.dict().get_item(&rebuilt.name)?,
        Namespace::Class(class) => class.getattr("__dict__")?.get_item(&rebuilt.name).ok(),
    };
    let Some(new_function) = bound.and_then(|value| rebuilt_function(value, rebuilt)) else {
        return Ok(());
    };
    let globals = target.module.dict();
    let old_codes: HashSet<usize> = rebuilt.old.iter().map(|c| c.as_ptr() as usize).collect();
    let by_code = live.users_of(&old_codes);
    for old_code in &rebuilt.old {
        for function in by_code
            .get(&(old_code.as_ptr() as usize))
            .into_iter()
            .flatten()
        {
            if function.is(&new_function) || !function.getattr("__globals__")?.is(&globals) {
                continue;
            }
            let captured = function.getattr("__closure__")?;
            let captured = if captured.is_none() {
                0
            } else {
                captured.len()?
            };
            undo.record_function(function)?;
            function.setattr("__code__", forwarding_code(py, &rebuilt.name, captured)?)?;
            function.setattr("__defaults__", py.None())?;
            let target_only = PyDict::new(py);
            target_only.set_item("__jurigged_target__", &new_function)?;
            function.setattr("__kwdefaults__", target_only)?;
        }
    }
    Ok(())
}

/// The function made from the rebuilt definition, found from what its name is bound to
/// through decorators (`__wrapped__`, static and class methods, properties, closures).
fn rebuilt_function<'py>(
    value: Bound<'py, PyAny>,
    rebuilt: &Rebuilt<'py>,
) -> Option<Bound<'py, PyAny>> {
    let mut stack = vec![(value, 0)];
    let mut seen = HashSet::new();
    while let Some((object, depth)) = stack.pop() {
        if depth > 5 || !seen.insert(object.as_ptr() as usize) {
            continue;
        }
        if object.is_instance_of::<PyFunction>() {
            let code = code_of(&object).ok()?;
            let is_it = code
                .getattr("co_name")
                .and_then(|n| n.extract::<String>())
                .is_ok_and(|n| n == rebuilt.name)
                && code
                    .getattr("co_firstlineno")
                    .and_then(|n| n.extract::<usize>())
                    .is_ok_and(|n| n == rebuilt.line)
                && code
                    .getattr("co_filename")
                    .and_then(|n| n.extract::<String>())
                    .is_ok_and(|n| n == rebuilt.filename);
            if is_it {
                return Some(object);
            }
            if let Ok(closure) = object.getattr("__closure__")
                && !closure.is_none()
                && let Ok(cells) = closure.try_iter()
            {
                for cell in cells.flatten() {
                    if let Ok(contents) = cell.getattr("cell_contents") {
                        stack.push((contents, depth + 1));
                    }
                }
            }
        }
        for attribute in ["__wrapped__", "__func__", "fget"] {
            if let Ok(inner) = object.getattr(attribute) {
                stack.push((inner, depth + 1));
            }
        }
    }
    None
}

/// Code that calls `__jurigged_target__` (a keyword-only default) with its arguments,
/// capturing `captured` names so that a function with that many closure cells can take it.
/// Its file name marks it as jurigged's: tracebacks leave it out, and patching ignores it.
fn forwarding_code<'py>(
    py: Python<'py>,
    name: &str,
    captured: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let cells: Vec<String> = (0..captured).map(|i| format!("_{i}")).collect();
    let (define, mention) = if cells.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("    {} = None\n", cells.join(" = ")),
            // Never evaluated (a cell may be empty): only captured.
            format!(
                "        if __jurigged_target__ is None:\n            {},\n",
                cells.join(", ")
            ),
        )
    };
    let source = format!(
        "def _outer():\n{define}    def {name}(*args, __jurigged_target__, **kwargs):\n{mention}        return __jurigged_target__(*args, **kwargs)\n    return {name}\n"
    );
    let module = py.import("builtins")?.getattr("compile")?.call1((
        source,
        "<jurigged: forwarding to the rebuilt function>",
        "exec",
    ))?;
    let missing = || PyRuntimeError::new_err("the forwarding code did not compile as expected");
    let outer = child_code(&module, |n, _| n == "_outer")?.ok_or_else(missing)?;
    child_code(&outer, |n, _| n == name)?.ok_or_else(missing)
}
