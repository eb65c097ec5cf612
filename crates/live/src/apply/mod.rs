//! Carrying out a batch of plans in the interpreter, all or nothing.
//!
//! Everything is compiled first, without running anything. Then statements and new
//! definitions run in their module or class namespace, in file order, and every live
//! function using an old code object gets the new one in a single commit during which no
//! Python code runs (see `execute`). If any step raises, what was done is undone and the
//! old code keeps running.
//!
//! Definitions are compiled in place: the module's new source with every line blanked but
//! the definition's own and the headers of its enclosing classes, so that line numbers,
//! qualified names, `super()` and closures come out exactly as a full compile would give.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyDict, PyFunction, PyModule, PyTuple, PyType};

use super::log::Logger;
use super::namespace::ClassNamespace;
use jurigged_source::{Definition, Kind, ModuleTree, Op, locate, mask};

/// One changed file: its previous and new versions and the operations between them.
pub struct FileChange {
    pub path: PathBuf,
    /// The file name as the interpreter knows it (`co_filename`).
    pub code_filename: String,
    /// The program's script (`__main__`).
    pub is_main: bool,
    pub old_source: Arc<str>,
    /// The part of the old version the save touched (or all of it), parsed.
    pub old_tree: ModuleTree,
    /// The version the module's top-level code was compiled from: a running top-level
    /// statement's line numbers are that version's.
    pub loaded_source: Arc<str>,
    /// Running top-level statements whose text changed since they started:
    /// (tokens as loaded, tokens now).
    pub running_aliases: Vec<(Vec<String>, Vec<String>)>,
    pub new_source: String,
    /// The same part of the new version, parsed.
    pub new_tree: ModuleTree,
    pub ops: Vec<Op>,
}

/// A line to print once the batch has been applied.
enum Report {
    Update(String, usize),
    Add(String, usize),
    Run(String, usize, String),
    Delete(String, usize),
    Note(String),
}

/// What a batch did: the operations, in jurigged's words (also logged with `-v`), and the
/// running statements left alone whose text changed: (file, tokens as loaded, tokens now).
pub struct Applied {
    pub done: Vec<String>,
    pub running_aliases: Vec<(PathBuf, Vec<String>, Vec<String>)>,
}

/// Applies every change or none. On failure returns the report to print.
pub fn apply(py: Python<'_>, changes: &[FileChange], log: &Logger) -> Result<Applied, String> {
    // Before anything changes (another thread may run during the batch), and true whether
    // it succeeds or not: every code object alive now came from the previous version.
    for change in changes {
        super::running_source::remember_running(py, &change.code_filename, &change.old_source);
    }
    let mut undo = Undo::default();
    let mut reports = Vec::new();
    let mut aliases = Vec::new();
    let result = apply_all(py, changes, &mut undo, &mut reports, &mut aliases);
    match result {
        Ok(()) => {
            for change in changes {
                refresh_linecache(py, &change.code_filename, &change.new_source);
            }
            let mut done = Vec::new();
            for report in reports {
                match report {
                    Report::Update(name, line) => {
                        log.update(&name, line);
                        done.push(format!("Update {name}"));
                    }
                    Report::Add(name, line) => {
                        log.add(&name, line);
                        done.push(format!("Add {name}"));
                    }
                    Report::Run(name, line, text) => {
                        log.run(&name, line, &text);
                        done.push(format!("Run {name} @L{line}"));
                    }
                    Report::Delete(name, line) => {
                        log.delete(&name, line);
                        done.push(format!("Delete {name}"));
                    }
                    Report::Note(text) => log.error(&text),
                }
            }
            Ok(Applied {
                done,
                running_aliases: aliases,
            })
        }
        Err(err) => {
            undo.rollback(py);
            // The traceback quotes the new source, which is what raised.
            for change in changes {
                refresh_linecache(py, &change.code_filename, &change.new_source);
            }
            let report = crate::python::format_traceback(py, &err);
            for change in changes {
                refresh_linecache(py, &change.code_filename, &change.old_source);
            }
            Err(report)
        }
    }
}

fn apply_all(
    py: Python<'_>,
    changes: &[FileChange],
    undo: &mut Undo,
    reports: &mut Vec<Report>,
    aliases: &mut Vec<(PathBuf, Vec<String>, Vec<String>)>,
) -> PyResult<()> {
    // Compile everything before anything runs: a compile error changes nothing.
    let mut prepared = Vec::new();
    // Preparing makes a code object per moved function (100,000 in a big module): the
    // collector would walk the heap again and again for garbage there is none of.
    let collector_paused = CollectorPause::new(py)?;
    for change in changes {
        let modules = modules_for(py, change)?;
        if modules.is_empty() {
            continue;
        }
        prepared.push(prepare(py, change, modules, reports, aliases)?);
    }
    drop(collector_paused);
    // One commit for the whole batch: a file's swaps wait for the next statement, of any
    // file, or the end, so no other thread sees one file new and another old.
    let mut lives = Vec::new();
    let mut files = Vec::new();
    for Prepared {
        modules,
        live,
        steps,
    } in prepared
    {
        lives.push(live);
        files.push((modules, steps));
    }
    let mut pending = Pending::default();
    let mut replaced: Vec<Replaced<'_>> = Vec::new();
    for (index, (modules, steps)) in files.into_iter().enumerate() {
        let file = File {
            modules: &modules,
            live: &lives[index],
            lives: &lives,
        };
        execute(py, file, steps, &mut pending, &mut replaced, undo, reports)?;
    }
    commit(py, &lives, &mut pending, undo, &mut replaced)?;
    for (name, count) in &pending.closures_kept_old {
        let which = match count {
            1 => format!("a closure {name} made earlier keeps its"),
            _ => format!("{count} closures {name} made earlier keep their"),
        };
        reports.push(Report::Note(format!(
            "jurigged: {which} old code: the new code captures other names; closures made from now on run it"
        )));
    }
    for live in &lives {
        notify_conformers(py, live, &replaced)?;
    }
    Ok(())
}

/// The file whose steps run, and the live objects of every file of the batch.
struct File<'a, 'py> {
    modules: &'a [LiveModule<'py>],
    live: &'a LiveObjects<'py>,
    lives: &'a [LiveObjects<'py>],
}

/// A module whose code comes from the changed file, with its name for reports.
struct LiveModule<'py> {
    name: String,
    module: Bound<'py, PyModule>,
}

/// Every loaded module whose `__file__` is the changed file (a script can also be imported
/// under its own name, giving two).
fn modules_for<'py>(py: Python<'py>, change: &FileChange) -> PyResult<Vec<LiveModule<'py>>> {
    let mut found = Vec::new();
    let modules = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?;
    for (name, module) in modules.copy()?.iter() {
        let Ok(module) = module.cast_into::<PyModule>() else {
            continue;
        };
        let Ok(file) = module.getattr(intern!(module.py(), "__file__")) else {
            continue;
        };
        let Ok(file) = file.extract::<String>() else {
            continue;
        };
        let same = file == change.code_filename
            || super::filter::normalise(std::path::Path::new(&file)) == change.path;
        if same {
            found.push(LiveModule {
                name: name.extract::<String>().unwrap_or_default(),
                module,
            });
        }
    }
    // A script is still __main__ after __main__.__file__ is gone (at the -i prompt).
    if found.is_empty()
        && change.is_main
        && let Some(Ok(main)) = modules
            .get_item("__main__")?
            .map(|m| m.cast_into::<PyModule>())
    {
        found.push(LiveModule {
            name: "__main__".into(),
            module: main,
        });
    }
    found.sort_by_key(|m| m.name != "__main__");
    Ok(found)
}

/// Where an executed definition or statement lands.
enum Namespace<'py> {
    Module(Bound<'py, PyModule>),
    Class(Bound<'py, PyType>),
}

/// One prepared step; nothing has run yet.
enum Step<'py> {
    /// Give `new_code` to every function using one of `old` codes.
    Swap {
        /// The function's name, which a later statement may call.
        name: String,
        old: Vec<Bound<'py, PyAny>>,
        new_code: Bound<'py, PyAny>,
        /// Run this (the def without decorators) in a scratch namespace for new defaults.
        defaults: Option<(Bound<'py, PyAny>, Namespace<'py>, String)>,
        report: Option<Report>,
    },
    /// Run `code` in a namespace of each module (a new definition or a statement).
    Exec {
        code: Bound<'py, PyAny>,
        /// The name a new definition binds (hot restart wraps it in a wrapped module).
        defines: Option<String>,
        /// (module globals, namespace) for every module loaded from the file.
        targets: Vec<(Bound<'py, PyModule>, Namespace<'py>)>,
        /// The names its text uses: a statement calling a function changed above it must
        /// see the new version.
        mentions: HashSet<String>,
        /// A function rebuilt because its captured names changed: its old function objects.
        rebuilt: Option<Rebuilt<'py>>,
        report: Report,
    },
    /// Remove `name` from a namespace of each module.
    Delete {
        namespaces: Vec<Namespace<'py>>,
        name: String,
        old: Vec<Bound<'py, PyAny>>,
        report: Report,
    },
    /// Give functions that only moved their code with the new line numbers.
    Shift(Vec<Moved<'py>>),
    Report(Report),
}

/// A code object that only moved, and the functions using it.
struct Moved<'py> {
    old: Bound<'py, PyAny>,
    new: Bound<'py, PyAny>,
    users: Vec<Bound<'py, PyAny>>,
    /// It holds nested code (closures made from it have their own code objects).
    nested: bool,
}

/// The old version of a module- or class-level function rebuilt because the names it
/// captures changed (a `super()` added or removed): calls to its old function objects
/// (references taken earlier, bound methods, hot restart's wrappers) are forwarded to the
/// rebuilt function. A closure made by a factory has no single successor and is left alone.
struct Rebuilt<'py> {
    old: Vec<Bound<'py, PyAny>>,
    name: String,
    /// The new definition's first line (`co_firstlineno`).
    line: usize,
    filename: String,
}

struct Prepared<'py> {
    modules: Vec<LiveModule<'py>>,
    live: LiveObjects<'py>,
    steps: Vec<Step<'py>>,
}

fn prepare<'py>(
    py: Python<'py>,
    change: &FileChange,
    modules: Vec<LiveModule<'py>>,
    reports: &mut Vec<Report>,
    aliases: &mut Vec<(PathBuf, Vec<String>, Vec<String>)>,
) -> PyResult<Prepared<'py>> {
    let mut live = LiveObjects::collect(py, &modules, &change.code_filename)?;
    let flags = future_flags(py, &modules[0].module)?;
    let compiler = Compiler {
        py,
        source: &change.new_source,
        filename: &change.code_filename,
        flags,
    };
    let running = running_statements(py, &modules, change)?;
    let (skipped, left_running) = skipped_runs(&change.ops, &running);
    // A statement left running as loaded has a new text now: that is its name from here on.
    for (index, loaded_tokens) in left_running {
        if let Some(Op::Run { line, .. }) = change.ops.get(index)
            && let Some(new) = change.new_tree.definitions.iter().find(|d| d.line == *line)
        {
            aliases.push((change.path.clone(), loaded_tokens, new.body_tokens.clone()));
        }
    }
    let main = &modules[0];
    let mut steps = Vec::new();
    for (index, op) in change.ops.iter().enumerate() {
        if let Some(note) = skipped.get(&index) {
            if let Some(note) = note {
                reports.push(Report::Note(note.replace("{module}", &main.name)));
            }
            continue;
        }
        let step = match op {
            Op::Update {
                path,
                old_line,
                new_line,
                defaults_changed,
                quiet,
            } => {
                let name = path.last().cloned().unwrap_or_default();
                let mut old = live.codes(&name, *old_line);
                if old.is_empty() {
                    // Held only by something the walk does not open (a click command, a
                    // framework's registry): look through the whole heap, this once.
                    live.scan_heap(py, &change.code_filename, &name, *old_line)?;
                    old = live.codes(&name, *old_line);
                }
                let (classes, definition) = find(&change.new_tree, path, *new_line)?;
                let module_code = compiler.compile(&keep_lines(&classes, definition, true))?;
                let new_code = code_at(&module_code, &classes, Some((&name, *new_line)))?;
                let report = (!quiet).then(|| Report::Update(dotted(&main.name, path), *old_line));
                if !same_free_variables(&old, &new_code)? {
                    // A closure's captured names changed: the function is rebuilt, like a new one.
                    let mut step = exec_step(
                        &compiler,
                        &modules,
                        &classes,
                        definition,
                        Report::Add(dotted(&main.name, path), *new_line),
                    )?;
                    if let Step::Exec { rebuilt, .. } = &mut step {
                        *rebuilt = Some(Rebuilt {
                            old,
                            name,
                            line: *new_line,
                            filename: change.code_filename.clone(),
                        });
                    }
                    step
                } else {
                    let defaults = if *defaults_changed {
                        let scratch = compiler.compile(&keep_lines(&classes, definition, false))?;
                        let code = code_at(&scratch, &classes, None)?;
                        Some((code, namespace_for(&main.module, &classes)?, name.clone()))
                    } else {
                        None
                    };
                    Step::Swap {
                        name,
                        old,
                        new_code,
                        defaults,
                        report,
                    }
                }
            }
            Op::Move {
                path,
                old_line,
                new_line,
            } => {
                let name = path.last().cloned().unwrap_or_default();
                let old = live.codes(&name, *old_line);
                let Some(first) = old.first() else {
                    continue;
                };
                let delta = *new_line as i64 - *old_line as i64;
                Step::Swap {
                    name,
                    new_code: shift_lines(first, delta)?.0,
                    old,
                    defaults: None,
                    report: None,
                }
            }
            Op::Shift { from_line, delta } => {
                let mut moves = Vec::new();
                for (old, users) in live.codes_from(*from_line) {
                    let (new, nested) = shift_lines(&old, *delta)?;
                    moves.push(Moved {
                        old,
                        new,
                        users,
                        nested,
                    });
                }
                Step::Shift(moves)
            }
            Op::Add {
                path,
                line,
                kind: _,
            } => {
                let (classes, definition) = find(&change.new_tree, path, *line)?;
                exec_step(
                    &compiler,
                    &modules,
                    &classes,
                    definition,
                    Report::Add(dotted(&main.name, path), *line),
                )?
            }
            Op::Run {
                parent, line, text, ..
            } => {
                let (classes, definition) = find(&change.new_tree, parent, *line)?;
                exec_step(
                    &compiler,
                    &modules,
                    &classes,
                    definition,
                    Report::Run(dotted(&main.name, parent), *line, text.clone()),
                )?
            }
            Op::Delete { path, line, kind } => match kind {
                Kind::Statement => Step::Report(Report::Delete(
                    format!("{}.<line>", dotted(&main.name, path)),
                    *line,
                )),
                _ => {
                    let name = path.last().cloned().unwrap_or_default();
                    // Where its class is gone already, nothing is left to delete.
                    let namespaces = modules
                        .iter()
                        .filter_map(|m| owner(&m.module, &path[..path.len() - 1]).ok())
                        .collect();
                    Step::Delete {
                        namespaces,
                        old: live.codes(&name, *line),
                        name,
                        report: Report::Delete(dotted(&main.name, path), *line),
                    }
                }
            },
        };
        steps.push(step);
    }
    Ok(Prepared {
        modules,
        live,
        steps,
    })
}

/// The definition at `path` (for a statement: its parent's path) starting at `line` in the
/// new tree, with its enclosing classes.
fn find<'t>(
    tree: &'t ModuleTree,
    path: &[String],
    line: usize,
) -> PyResult<(Vec<&'t Definition>, &'t Definition)> {
    locate(tree, path, line).ok_or_else(|| {
        let what = if path.is_empty() {
            "the statement".to_string()
        } else {
            path.join(".")
        };
        PyRuntimeError::new_err(format!(
            "jurigged cannot find {what} at line {line} of the new source"
        ))
    })
}

/// The lines to compile: the headers of the enclosing classes and the definition; without
/// its decorators when `decorators` is false.
fn keep_lines(
    classes: &[&Definition],
    definition: &Definition,
    decorators: bool,
) -> Vec<(usize, usize)> {
    let mut keep: Vec<(usize, usize)> = classes.iter().map(|c| c.header_lines).collect();
    let start = if decorators || definition.kind != Kind::Function {
        definition.line
    } else {
        definition.def_line
    };
    keep.push((start, definition.end_line));
    keep
}

/// Prepares running a definition or statement in its module or class namespace, in every
/// module loaded from the file.
fn exec_step<'py>(
    compiler: &Compiler<'_, 'py>,
    modules: &[LiveModule<'py>],
    classes: &[&Definition],
    definition: &Definition,
    report: Report,
) -> PyResult<Step<'py>> {
    let module_code = compiler.compile(&keep_lines(classes, definition, true))?;
    let code = code_at(&module_code, classes, None)?;
    let mut targets = Vec::new();
    for module in modules {
        targets.push((
            module.module.clone(),
            namespace_for(&module.module, classes)?,
        ));
    }
    let defines = (definition.kind != Kind::Statement).then(|| definition.name.clone());
    let mentions = definition
        .text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Step::Exec {
        code,
        defines,
        targets,
        mentions,
        rebuilt: None,
        report,
    })
}

fn namespace_for<'py>(
    module: &Bound<'py, PyModule>,
    classes: &[&Definition],
) -> PyResult<Namespace<'py>> {
    let path: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    owner(module, &path)
}

/// The module, or the live class at `path` inside it.
fn owner<'py>(module: &Bound<'py, PyModule>, path: &[String]) -> PyResult<Namespace<'py>> {
    if path.is_empty() {
        return Ok(Namespace::Module(module.clone()));
    }
    let mut current = module.clone().into_any();
    for name in path {
        current = current.getattr(name.as_str())?;
    }
    let class = current
        .cast_into::<PyType>()
        .map_err(|_| PyRuntimeError::new_err(format!("{} is no longer a class", path.join("."))))?;
    Ok(Namespace::Class(class))
}

/// The code object at `classes` (class bodies, by name) and then, if given, the function
/// `name` starting at `line`, inside a compiled module.
fn code_at<'py>(
    module_code: &Bound<'py, PyAny>,
    classes: &[&Definition],
    function: Option<(&str, usize)>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut current = module_code.clone();
    for class in classes {
        current = child_code(&current, |name, _| name == class.name)?
            .ok_or_else(|| PyRuntimeError::new_err(format!("no code for class {}", class.name)))?;
    }
    if let Some((wanted, line)) = function {
        current = child_code(&current, |name, first| name == wanted && first == line)?.ok_or_else(
            || PyRuntimeError::new_err(format!("no code for {wanted} at line {line}")),
        )?;
    }
    Ok(current)
}

fn child_code<'py>(
    code: &Bound<'py, PyAny>,
    matches: impl Fn(&str, usize) -> bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    for constant in code.getattr(intern!(code.py(), "co_consts"))?.try_iter()? {
        let constant = constant?;
        if constant.is_instance_of::<PyCode>() {
            let name: String = constant
                .getattr(intern!(constant.py(), "co_name"))?
                .extract()?;
            let first: usize = constant
                .getattr(intern!(constant.py(), "co_firstlineno"))?
                .extract()?;
            if matches(&name, first) {
                return Ok(Some(constant));
            }
        }
    }
    Ok(None)
}

/// `code` with every line number moved by `delta`, nested code objects included.
/// Also tells whether it holds nested code (closures made from it may need the new one).
fn shift_lines<'py>(code: &Bound<'py, PyAny>, delta: i64) -> PyResult<(Bound<'py, PyAny>, bool)> {
    let py = code.py();
    let constants = code
        .getattr(intern!(py, "co_consts"))?
        .cast_into::<PyTuple>()?;
    // Most functions have no nested code: their constants stay as they are.
    let shifted_constants = if constants.iter().any(|c| c.is_instance_of::<PyCode>()) {
        let mut shifted = Vec::with_capacity(constants.len());
        for constant in constants.iter() {
            if constant.is_instance_of::<PyCode>() {
                shifted.push(shift_lines(&constant, delta)?.0);
            } else {
                shifted.push(constant);
            }
        }
        Some(PyTuple::new(py, shifted)?)
    } else {
        None
    };
    let first: i64 = code.getattr(intern!(py, "co_firstlineno"))?.extract()?;
    let first = (first + delta).into_pyobject(py)?;
    // `code.replace(co_firstlineno=..., co_consts=...)` by vectorcall: a module of 100,000
    // functions makes as many calls, and a kwargs dict for each costs more than the call.
    let mut arguments = vec![code.as_ptr(), first.as_ptr()];
    static FIRST_LINE: pyo3::sync::PyOnceLock<Py<PyTuple>> = pyo3::sync::PyOnceLock::new();
    static FIRST_LINE_AND_CONSTANTS: pyo3::sync::PyOnceLock<Py<PyTuple>> =
        pyo3::sync::PyOnceLock::new();
    let names = match &shifted_constants {
        Some(constants) => {
            arguments.push(constants.as_ptr());
            FIRST_LINE_AND_CONSTANTS.get_or_try_init(py, || {
                PyTuple::new(
                    py,
                    [intern!(py, "co_firstlineno"), intern!(py, "co_consts")],
                )
                .map(Bound::unbind)
            })?
        }
        None => FIRST_LINE.get_or_try_init(py, || {
            PyTuple::new(py, [intern!(py, "co_firstlineno")]).map(Bound::unbind)
        })?,
    };
    // SAFETY: `arguments` holds live references (self first, then one per keyword name)
    // for the duration of the call; the result is a new reference or NULL with an error set.
    unsafe {
        let result = pyo3::ffi::PyObject_VectorcallMethod(
            intern!(py, "replace").as_ptr(),
            arguments.as_ptr(),
            1,
            names.bind(py).as_ptr(),
        );
        Bound::from_owned_ptr_or_err(py, result).map(|code| (code, shifted_constants.is_some()))
    }
}

/// Pairs the nested code objects of two versions of a function, by name and order.
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
                found.push((
                    constant
                        .getattr(intern!(constant.py(), "co_name"))?
                        .extract()?,
                    constant,
                ));
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

fn same_free_variables(old: &[Bound<'_, PyAny>], new: &Bound<'_, PyAny>) -> PyResult<bool> {
    let new_free = new.getattr(intern!(new.py(), "co_freevars"))?;
    for code in old {
        if !code
            .getattr(intern!(code.py(), "co_freevars"))?
            .eq(&new_free)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

fn dotted(module: &str, path: &[String]) -> String {
    std::iter::once(module.to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(".")
}

/// Compiles masked versions of one new source.
struct Compiler<'a, 'py> {
    py: Python<'py>,
    source: &'a str,
    filename: &'a str,
    flags: i64,
}

impl<'py> Compiler<'_, 'py> {
    fn compile(&self, keep: &[(usize, usize)]) -> PyResult<Bound<'py, PyAny>> {
        let text = mask(self.source, keep);
        self.py.import("builtins")?.getattr("compile")?.call1((
            text,
            self.filename,
            "exec",
            self.flags,
            true,
        ))
    }
}

/// The `from __future__ import ...` flags in force in a module.
fn future_flags(py: Python<'_>, module: &Bound<'_, PyModule>) -> PyResult<i64> {
    // A module with a future import has loaded __future__; importing it here would
    // release the GIL for file reads in the middle of a batch.
    let Some(future) = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?
        .get_item("__future__")?
    else {
        return Ok(0);
    };
    let globals = module.dict();
    let mut flags = 0;
    for name in future
        .getattr(intern!(future.py(), "all_feature_names"))?
        .try_iter()?
    {
        let name = name?;
        let name: String = name.extract()?;
        let feature = future.getattr(name.as_str())?;
        if let Some(value) = globals.get_item(&name)?
            && value.is(&feature)
        {
            flags |= feature
                .getattr(intern!(feature.py(), "compiler_flag"))?
                .extract::<i64>()?;
        }
    }
    Ok(flags)
}

/// Lines of top-level statements currently executing in these modules (any thread), in
/// the old source's numbering: a script's own main loop, for instance.
fn running_statements(
    py: Python<'_>,
    modules: &[LiveModule<'_>],
    change: &FileChange,
) -> PyResult<Vec<(usize, String, Vec<String>)>> {
    let mut running = Vec::new();
    // Parsed only if a top-level statement of the module is running (a script's loop).
    let mut loaded: Option<ModuleTree> = None;
    let frames = py.import("sys")?.call_method0("_current_frames")?;
    for frame in frames.call_method0("values")?.try_iter()? {
        let mut frame = frame?;
        while !frame.is_none() {
            let code = frame.getattr(intern!(frame.py(), "f_code"))?;
            if code
                .getattr(intern!(code.py(), "co_name"))?
                .extract::<String>()?
                == "<module>"
            {
                let globals = frame.getattr(intern!(frame.py(), "f_globals"))?;
                if modules.iter().any(|m| m.module.dict().is(&globals)) {
                    let line: usize = frame
                        .getattr(intern!(frame.py(), "f_lineno"))?
                        .extract()
                        .unwrap_or(0);
                    let loaded = loaded.get_or_insert_with(|| {
                        jurigged_source::parse(&change.loaded_source).unwrap_or_default()
                    });
                    if let Some(found) = running_in_old_tree(change, loaded, line) {
                        running.push(found);
                    }
                }
            }
            frame = frame.getattr(intern!(frame.py(), "f_back"))?;
        }
    }
    Ok(running)
}

/// The running top-level statement at `line` of the version the module was loaded from,
/// found again in the old tree (the part the save touched) by its text (its current text, if a save changed it while it
/// ran): (old line, first token, tokens as loaded).
fn running_in_old_tree(
    change: &FileChange,
    loaded: &ModuleTree,
    line: usize,
) -> Option<(usize, String, Vec<String>)> {
    let loaded = loaded
        .definitions
        .iter()
        .find(|d| d.kind == Kind::Statement && d.line <= line && line <= d.end_line)?;
    let current = change
        .running_aliases
        .iter()
        .find(|(as_loaded, _)| *as_loaded == loaded.body_tokens)
        .map_or(&loaded.body_tokens, |(_, now)| now);
    let old = change
        .old_tree
        .definitions
        .iter()
        .find(|d| d.kind == Kind::Statement && d.body_tokens == *current)?;
    let first = old.body_tokens.first().cloned().unwrap_or_default();
    Some((old.line, first, loaded.body_tokens.clone()))
}

/// A changed top-level statement that is running right now (the script's own loop) is not
/// started a second time (jurigged issue #46). Returns the ops to skip: the `Run` of its new
/// version, with a note for the user, and the `Delete` of its old one, silently.
/// Also returns, for each `Run` skipped, the running statement's tokens as loaded.
#[allow(clippy::type_complexity)]
fn skipped_runs(
    ops: &[Op],
    running: &[(usize, String, Vec<String>)],
) -> (HashMap<usize, Option<String>>, Vec<(usize, Vec<String>)>) {
    let mut skipped = HashMap::new();
    let mut left_running = Vec::new();
    for (old_line, first_token, loaded_tokens) in running {
        let is_old_version = |op: &Op| matches!(op, Op::Delete { path, line, kind: Kind::Statement } if path.is_empty() && line == old_line);
        let Some(delete) = ops.iter().position(is_old_version) else {
            continue;
        };
        skipped.insert(delete, None);
        let new_version = ops
            .iter()
            .enumerate()
            .filter_map(|(index, op)| match op {
                Op::Run {
                    parent, text, line, ..
                } if parent.is_empty() && text.trim_start().starts_with(first_token.as_str()) => {
                    Some((index, *line, text))
                }
                _ => None,
            })
            .min_by_key(|(_, line, _)| line.abs_diff(*old_line));
        if let Some((index, line, text)) = new_version {
            let first_line = text.trim().lines().next().unwrap_or_default();
            skipped.insert(
                index,
                Some(format!(
                    "jurigged: not re-running {{module}} @L{line} ({first_line}): it is running now; restart the program to apply it"
                )),
            );
            left_running.push((index, loaded_tokens.clone()));
        }
    }
    (skipped, left_running)
}

/// Runs one file's prepared steps in order, as the module itself would run. Code swaps and
/// deletions are held back in `pending`, shared by the files of the batch, and made
/// together in one commit, in which no Python code runs, so another thread never sees some
/// of them done and others not. A changed statement first commits what is pending above it
/// (it may call those functions; a file before it counts), and so does a new definition
/// that uses one. Statements and new definitions are the user's code: other
/// threads may run while they do (the GIL is never held hostage).
fn execute<'py>(
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
                    Some((code, namespace, name)) => Some(scratch_function(
                        py,
                        &code,
                        &namespace,
                        &name,
                        &modules[0].module,
                    )?),
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
                for (module, namespace) in &targets {
                    // In a module or class hot restart wraps, a new definition is wrapped
                    // before it is bound: no other thread ever calls it unwrapped.
                    let rewrap = defines
                        .as_deref()
                        .filter(|_| wrapped_by_hot_restart(namespace));
                    run_in(py, &code, namespace, module, rewrap, undo)?;
                    if let Some(rebuilt) = &rebuilt {
                        forward_to_rebuilt(py, live, rebuilt, module, namespace, undo)?;
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
                pending.deletes.push((namespaces, name, old));
                reports.push(report);
            }
            Step::Shift(moves) => pending.moves.extend(moves),
            Step::Report(report) => reports.push(report),
        }
    }
    Ok(())
}

/// Swaps and deletions waiting for the commit.
#[derive(Default)]
struct Pending<'py> {
    swaps: Vec<PendingSwap<'py>>,
    /// (namespaces, name, old codes)
    #[allow(clippy::type_complexity)]
    deletes: Vec<(Vec<Namespace<'py>>, String, Vec<Bound<'py, PyAny>>)>,
    /// Names of the functions swapped or deleted.
    names: HashSet<String>,
    moves: Vec<Moved<'py>>,
    /// Closures made earlier that keep their old code, by qualified name.
    closures_kept_old: BTreeMap<String, usize>,
}

struct PendingSwap<'py> {
    old: Vec<Bound<'py, PyAny>>,
    new_code: Bound<'py, PyAny>,
    /// A function made from the new definition, holding its new defaults.
    new_defaults: Option<Bound<'py, PyAny>>,
}

/// Makes every pending swap and deletion at once. Only C-level attribute and dict writes
/// happen here, and the cyclic collector is paused (a finalizer is Python code): without
/// Python code running, the interpreter never hands the GIL to another thread halfway.
fn commit<'py>(
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
                function.setattr(intern!(function.py(), "__code__"), &swap.new_code)?;
                if let Some(source) = &swap.new_defaults {
                    let (defaults, kwdefaults) = defaults_of(source)?;
                    function.setattr(intern!(function.py(), "__defaults__"), defaults)?;
                    function.setattr(intern!(function.py(), "__kwdefaults__"), kwdefaults)?;
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
    for (namespaces, name, old) in pending.deletes.drain(..) {
        for namespace in &namespaces {
            delete_name(namespace, &name, undo)?;
        }
        for old_code in old {
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

/// Pauses the cyclic garbage collector while alive (if it was running).
struct CollectorPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> CollectorPause<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
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
            let _ = gc.call_method0("enable");
        }
    }
}

/// Runs a definition's code in a scratch namespace and returns the function it defines,
/// for its new defaults (evaluated where the def stands: class names are visible).
fn scratch_function<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyAny>,
    namespace: &Namespace<'py>,
    name: &str,
    module: &Bound<'py, PyModule>,
) -> PyResult<Bound<'py, PyAny>> {
    let scratch = PyDict::new(py);
    if let Namespace::Class(class) = namespace {
        // Class-level names are readable, as in the class body.
        scratch.update(
            class
                .getattr("__dict__")?
                .call_method0("copy")?
                .cast_into::<PyDict>()?
                .as_mapping(),
        )?;
    }
    let builtins = py.import("builtins")?;
    builtins
        .getattr("exec")?
        .call1((code, module.dict(), &scratch))?;
    scratch.get_item(name)?.ok_or_else(|| {
        PyRuntimeError::new_err(format!("the new definition of {name} did not define it"))
    })
}

fn update_docstring(
    function: &Bound<'_, PyAny>,
    old_code: &Bound<'_, PyAny>,
    new_code: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let first_constant = |code: &Bound<'_, PyAny>| -> PyResult<Option<*mut pyo3::ffi::PyObject>> {
        let constants = code.getattr(intern!(code.py(), "co_consts"))?;
        Ok(constants.get_item(0).ok().map(|first| first.as_ptr()))
    };
    // The same docstring object (the code only moved): nothing to follow.
    if first_constant(old_code)? == first_constant(new_code)? {
        return Ok(());
    }
    let docstring = |code: &Bound<'_, PyAny>| -> PyResult<Option<String>> {
        let constants = code.getattr(intern!(code.py(), "co_consts"))?;
        Ok(match constants.get_item(0) {
            Ok(first) => first.extract::<String>().ok(),
            Err(_) => None,
        })
    };
    // Only a docstring that came from the code (not one set by a decorator) follows it.
    let current: Option<String> = function
        .getattr(intern!(function.py(), "__doc__"))?
        .extract()
        .ok();
    if current == docstring(old_code)? {
        function.setattr(intern!(function.py(), "__doc__"), docstring(new_code)?)?;
    }
    Ok(())
}

/// Runs `code` in `namespace`. `rewrap`: the name of a definition to hand to hot restart
/// before it is bound.
fn run_in<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyAny>,
    namespace: &Namespace<'py>,
    module: &Bound<'py, PyModule>,
    rewrap: Option<&str>,
    undo: &mut Undo,
) -> PyResult<()> {
    let exec = py.import("builtins")?.getattr("exec")?;
    match namespace {
        Namespace::Module(target) => {
            undo.record_module(target)?;
            let Some(name) = rewrap else {
                exec.call1((code, target.dict()))?;
                return Ok(());
            };
            // The definition binds its name in a scratch namespace (its globals are still
            // the module's), then the wrapped value goes into the module.
            let scratch = PyDict::new(py);
            exec.call1((code, target.dict(), &scratch))?;
            for (key, value) in scratch.iter() {
                let value = if key.extract::<&str>().is_ok_and(|key| key == name) {
                    rewrapped(py, target.as_any(), name, target.name()?.as_any(), &value)?
                } else {
                    value
                };
                target.dict().set_item(key, value)?;
            }
        }
        Namespace::Class(class) => {
            let mut namespace = ClassNamespace::new(class.clone().unbind());
            if let Some(name) = rewrap {
                namespace.rewrap(name, module.name()?.into_any().unbind());
            }
            let proxy = Bound::new(py, namespace)?;
            undo.classes.push(proxy.clone().unbind());
            exec.call1((code, module.dict(), &proxy))?;
            proxy.borrow().bind_class_cell(py)?;
        }
    }
    Ok(())
}

/// Whether hot restart wraps the module or class (`wrap_module`, `wrap_class`, `--restart`).
fn wrapped_by_hot_restart(namespace: &Namespace<'_>) -> bool {
    let holder = match namespace {
        Namespace::Module(module) => module.as_any(),
        Namespace::Class(class) => class.as_any(),
    };
    let wrapped = holder
        .getattr("__hot_restart_wrapped__")
        .and_then(|marker| marker.is_truthy())
        .unwrap_or(false);
    // SAFETY: clearing the failed lookup of an optional marker.
    unsafe { pyo3::ffi::PyErr_Clear() };
    wrapped
}

/// What hot restart binds for a definition a save adds to a module or class it wraps.
pub(super) fn rewrapped<'py>(
    py: Python<'py>,
    holder: &Bound<'py, PyAny>,
    name: &str,
    module_name: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    py.import("hot_restart")?
        .call_method1("_rewrapped", (holder, name, module_name, value))
}

/// Gives the old function objects of a rebuilt function (those of `module`) code that
/// calls the rebuilt one, so every reference taken earlier runs the new code. The new
/// function is found under its name in `namespace`, through decorators.
fn forward_to_rebuilt<'py>(
    py: Python<'py>,
    live: &LiveObjects<'py>,
    rebuilt: &Rebuilt<'py>,
    module: &Bound<'py, PyModule>,
    namespace: &Namespace<'py>,
    undo: &mut Undo,
) -> PyResult<()> {
    let bound = match namespace {
        Namespace::Module(module) => module.dict().get_item(&rebuilt.name)?,
        Namespace::Class(class) => class.getattr("__dict__")?.get_item(&rebuilt.name).ok(),
    };
    let Some(target) = bound.and_then(|value| rebuilt_function(value, rebuilt)) else {
        return Ok(());
    };
    let globals = module.dict();
    let old_codes: HashSet<usize> = rebuilt.old.iter().map(|c| c.as_ptr() as usize).collect();
    let by_code = live.users_of(&old_codes);
    for old_code in &rebuilt.old {
        for function in by_code
            .get(&(old_code.as_ptr() as usize))
            .into_iter()
            .flatten()
        {
            if function.is(&target) || !function.getattr("__globals__")?.is(&globals) {
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
            target_only.set_item("__jurigged_target__", &target)?;
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
    // SAFETY: clearing the failed lookups of optional attributes.
    unsafe { pyo3::ffi::PyErr_Clear() };
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
                undo.attributes.push((
                    class.clone().into_any().unbind(),
                    name.to_string(),
                    Some(own.get_item(name)?.unbind()),
                ));
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
                object.setattr(intern!(object.py(), "__code__"), *new)?;
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
fn notify_conformers<'py>(
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

/// A code object given new code (or deleted, `new` = None) by the batch.
struct Replaced<'py> {
    old: Bound<'py, PyAny>,
    new: Option<Bound<'py, PyAny>>,
    /// Nested in a function: closures made from it exist only on the heap.
    nested: bool,
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

/// The functions (and `__conform__` objects) reachable from a module's namespace whose
/// code comes from the changed file: module functions, methods, static and class methods,
/// properties, functions inside decorators (`__wrapped__`, closure cells). Walking the
/// module's own objects costs the same whatever the size of the heap.
struct LiveObjects<'py> {
    /// (first line of its code when collected, function), by line: a module of 100,000
    /// functions is one sorted vector, not 100,000 map entries.
    functions: Vec<(usize, Bound<'py, PyAny>)>,
    conformers: Vec<Bound<'py, PyAny>>,
}

impl<'py> LiveObjects<'py> {
    fn collect(py: Python<'py>, modules: &[LiveModule<'py>], filename: &str) -> PyResult<Self> {
        let mut live = LiveObjects {
            functions: Vec::new(),
            conformers: Vec::new(),
        };
        let names: Vec<String> = modules.iter().map(|m| m.name.clone()).collect();
        let filename = pyo3::types::PyString::new(py, filename);
        let kinds = Kinds::new(py)?;
        let mut seen = HashSet::new();
        let mut stack: Vec<Bound<'py, PyAny>> = Vec::new();
        for module in modules {
            stack.extend(module.module.dict().values().iter());
        }
        while let Some(object) = stack.pop() {
            if !seen.insert(object.as_ptr() as usize) {
                continue;
            }
            if object.is_instance_of::<PyFunction>() {
                let code = code_of(&object)?;
                if code.getattr(intern!(py, "co_filename"))?.eq(&filename)? {
                    let line: usize = code
                        .getattr(intern!(code.py(), "co_firstlineno"))?
                        .extract()?;
                    live.functions.push((line, object.clone()));
                }
                if let Some(wrapped) =
                    own_dict(&object).and_then(|d| d.get_item("__wrapped__").ok().flatten())
                {
                    stack.push(wrapped);
                }
                let closure = object.getattr(intern!(object.py(), "__closure__"))?;
                if !closure.is_none() {
                    for cell in closure.try_iter()? {
                        if let Ok(contents) = cell?.getattr("cell_contents") {
                            stack.push(contents);
                        }
                    }
                }
            } else if object.is_instance_of::<PyType>() {
                let module: Option<String> = object
                    .getattr("__module__")
                    .ok()
                    .and_then(|m| m.extract().ok());
                if module.is_some_and(|m| names.contains(&m)) {
                    let own = object.getattr(intern!(object.py(), "__dict__"))?;
                    stack.extend(
                        own.call_method0("values")?
                            .try_iter()?
                            .filter_map(Result::ok),
                    );
                }
            } else if let Some(inner) = kinds.unwrap(&object)? {
                stack.extend(inner);
            } else if kinds.has_conform(&object)? {
                live.conformers.push(object);
            }
        }
        live.functions.sort_by_key(|(line, _)| *line);
        Ok(live)
    }

    /// Adds every function on the heap defined as `name` at `line` in `filename`.
    fn scan_heap(
        &mut self,
        py: Python<'py>,
        filename: &str,
        name: &str,
        line: usize,
    ) -> PyResult<()> {
        for object in py.import("gc")?.call_method0("get_objects")?.try_iter()? {
            let object = object?;
            if !object.is_instance_of::<PyFunction>() {
                continue;
            }
            let code = code_of(&object)?;
            let matches = code
                .getattr(intern!(code.py(), "co_firstlineno"))?
                .extract::<usize>()?
                == line
                && code
                    .getattr(intern!(code.py(), "co_name"))?
                    .extract::<String>()?
                    == name
                && code
                    .getattr(intern!(code.py(), "co_filename"))?
                    .extract::<String>()?
                    == filename;
            if matches && !self.functions.iter().any(|(_, known)| known.is(&object)) {
                self.functions.push((line, object));
            }
        }
        self.functions.sort_by_key(|(line, _)| *line);
        Ok(())
    }

    /// The functions whose code started at `line` when collected.
    fn at_line(&self, line: usize) -> &[(usize, Bound<'py, PyAny>)] {
        let start = self.functions.partition_point(|(first, _)| *first < line);
        let end = self.functions.partition_point(|(first, _)| *first <= line);
        &self.functions[start..end]
    }

    /// The distinct code objects of the functions defined as `name` at `line`.
    fn codes(&self, name: &str, line: usize) -> Vec<Bound<'py, PyAny>> {
        let mut codes: Vec<Bound<'py, PyAny>> = Vec::new();
        for (_, function) in self.at_line(line) {
            let Ok(code) = code_of(function) else {
                continue;
            };
            let named = code
                .getattr(intern!(code.py(), "co_name"))
                .and_then(|n| n.extract::<String>())
                .is_ok_and(|n| n == name);
            if named && !codes.iter().any(|c| c.is(&code)) {
                codes.push(code);
            }
        }
        codes
    }

    /// The code objects of the functions defined at `line` or below, each with the
    /// functions using it.
    #[allow(clippy::type_complexity)]
    fn codes_from(&self, line: usize) -> Vec<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> {
        let start = self.functions.partition_point(|(first, _)| *first < line);
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut codes: Vec<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> = Vec::new();
        for (_, function) in &self.functions[start..] {
            let Ok(code) = code_of(function) else {
                continue;
            };
            let at = *index.entry(code.as_ptr() as usize).or_insert_with(|| {
                codes.push((code, Vec::new()));
                codes.len() - 1
            });
            codes[at].1.push(function.clone());
        }
        codes
    }

    /// The functions running one of `codes` now, by the address of that code.
    fn users_of(&self, codes: &HashSet<usize>) -> HashMap<usize, Vec<&Bound<'py, PyAny>>> {
        let mut users: HashMap<usize, Vec<&Bound<'py, PyAny>>> = HashMap::new();
        if codes.is_empty() {
            return users;
        }
        for (_, function) in &self.functions {
            if let Ok(code) = code_of(function)
                && codes.contains(&(code.as_ptr() as usize))
            {
                users
                    .entry(code.as_ptr() as usize)
                    .or_default()
                    .push(function);
            }
        }
        users
    }
}

/// The wrapper types whose inner functions the walk follows, looked up once.
struct Kinds<'py> {
    staticmethod: Bound<'py, PyAny>,
    classmethod: Bound<'py, PyAny>,
    property: Bound<'py, PyAny>,
    method: Bound<'py, PyAny>,
    partial: Bound<'py, PyAny>,
    cached_property: Bound<'py, PyAny>,
    lru_wrapper: Bound<'py, PyAny>,
}

impl<'py> Kinds<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let builtins = py.import("builtins")?;
        let functools = py.import("functools")?;
        Ok(Kinds {
            staticmethod: builtins.getattr(intern!(builtins.py(), "staticmethod"))?,
            classmethod: builtins.getattr(intern!(builtins.py(), "classmethod"))?,
            property: builtins.getattr(intern!(builtins.py(), "property"))?,
            method: py.import("types")?.getattr("MethodType")?,
            partial: functools.getattr(intern!(functools.py(), "partial"))?,
            cached_property: functools.getattr(intern!(functools.py(), "cached_property"))?,
            lru_wrapper: functools.getattr(intern!(functools.py(), "_lru_cache_wrapper"))?,
        })
    }

    /// The functions inside a known wrapper object, or `None` for anything else. Only
    /// known types are opened, so no user `__getattr__` ever runs.
    fn unwrap(&self, object: &Bound<'py, PyAny>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
        let of = |kind: &Bound<'py, PyAny>| object.is_instance(kind).unwrap_or(false);
        let attributes: &[&str] =
            if of(&self.staticmethod) || of(&self.classmethod) || of(&self.method) {
                &["__func__"]
            } else if of(&self.property) {
                &["fget", "fset", "fdel"]
            } else if of(&self.partial) || of(&self.cached_property) {
                &["func"]
            } else if of(&self.lru_wrapper) {
                &["__wrapped__"]
            } else {
                return Ok(None);
            };
        let mut inner = Vec::new();
        for attribute in attributes {
            if let Ok(value) = object.getattr(*attribute)
                && !value.is_none()
            {
                inner.push(value);
            }
        }
        Ok(Some(inner))
    }

    /// Whether the object's type defines `__conform__` (looked up statically).
    fn has_conform(&self, object: &Bound<'py, PyAny>) -> PyResult<bool> {
        for class in object.get_type().getattr("__mro__")?.try_iter()? {
            if class?.getattr("__dict__")?.contains("__conform__")? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Everything a batch changed, to put back if a later step fails.
#[derive(Default)]
struct Undo {
    /// (function, __code__, __defaults__, __kwdefaults__, __doc__)
    functions: Vec<[Py<PyAny>; 5]>,
    /// The functions in `functions`, by address (they are kept alive there).
    recorded: HashSet<usize>,
    /// (function, __code__) of functions whose code only moved.
    codes: Vec<(Py<PyAny>, Py<PyAny>)>,
    /// Module dicts as they were before the batch first wrote to them.
    modules: Vec<(Py<PyModule>, Py<PyDict>)>,
    classes: Vec<Py<ClassNamespace>>,
    /// (owner, name, previous value)
    attributes: Vec<(Py<PyAny>, String, Option<Py<PyAny>>)>,
}

impl Undo {
    /// Records only a function's code (all a move changes), unless recorded whole already.
    fn record_code(&mut self, function: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.recorded.contains(&(function.as_ptr() as usize)) {
            self.codes
                .push((function.clone().unbind(), code_of(function)?.unbind()));
        }
        Ok(())
    }

    fn record_function(&mut self, function: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.recorded.insert(function.as_ptr() as usize) {
            return Ok(());
        }
        let (defaults, kwdefaults) = defaults_of(function)?;
        self.functions.push([
            function.clone().unbind(),
            code_of(function)?.unbind(),
            defaults.unbind(),
            kwdefaults.unbind(),
            function
                .getattr(intern!(function.py(), "__doc__"))?
                .unbind(),
        ]);
        Ok(())
    }

    fn record_module(&mut self, module: &Bound<'_, PyModule>) -> PyResult<()> {
        if !self.modules.iter().any(|(m, _)| m.is(module)) {
            self.modules
                .push((module.clone().unbind(), module.dict().copy()?.unbind()));
        }
        Ok(())
    }

    fn rollback(&mut self, py: Python<'_>) {
        self.recorded.clear();
        for [function, code, defaults, kwdefaults, doc] in self.functions.drain(..).rev() {
            let function = function.bind(py);
            let _ = function.setattr(intern!(function.py(), "__code__"), code);
            let _ = function.setattr(intern!(function.py(), "__defaults__"), defaults);
            let _ = function.setattr(intern!(function.py(), "__kwdefaults__"), kwdefaults);
            let _ = function.setattr(intern!(function.py(), "__doc__"), doc);
        }
        // After the whole records: a function recorded whole after its move holds the moved
        // code there, and the code from before the move must win.
        for (function, code) in self.codes.drain(..).rev() {
            let _ = function.bind(py).setattr(intern!(py, "__code__"), code);
        }
        for (owner, name, previous) in self.attributes.drain(..).rev() {
            let owner = owner.bind(py);
            let _ = match previous {
                Some(value) => owner.setattr(name.as_str(), value),
                None => owner.delattr(name.as_str()),
            };
        }
        for proxy in self.classes.drain(..).rev() {
            proxy.bind(py).borrow_mut().undo(py);
        }
        for (module, before) in self.modules.drain(..) {
            let dict = module.bind(py).dict();
            let before = before.bind(py);
            let keys: Vec<Bound<'_, PyAny>> = dict.keys().iter().collect();
            for key in keys {
                if !before.contains(&key).unwrap_or(true) {
                    let _ = dict.del_item(&key);
                }
            }
            for (key, value) in before.iter() {
                let unchanged = dict
                    .get_item(&key)
                    .ok()
                    .flatten()
                    .is_some_and(|current| current.is(&value));
                if !unchanged {
                    let _ = dict.set_item(key, value);
                }
            }
        }
        // SAFETY: clearing errors of best-effort restores.
        unsafe { pyo3::ffi::PyErr_Clear() };
    }
}

/// Tracebacks, pdb and inspect show the source that is running, not whatever the file
/// holds later.
fn refresh_linecache(py: Python<'_>, filename: &str, source: &str) {
    let result = (|| -> PyResult<()> {
        // Not loaded: nothing is cached, and importing it here would give up the GIL at
        // every file it reads, each time waiting for it again.
        let modules = py.import("sys")?.getattr("modules")?;
        let Some(linecache) = modules.cast::<PyDict>()?.get_item("linecache")? else {
            return Ok(());
        };
        // Split at newlines only, as the file reads (str.splitlines also splits at form
        // feeds); the list is made at its size at once: a 10 MB module has half a million
        // lines.
        let lines = pyo3::types::PyList::new(py, source.split_inclusive('\n'))?;
        let entry = (source.len(), py.None(), lines, filename);
        linecache
            .getattr(intern!(linecache.py(), "cache"))?
            .set_item(filename, entry)
    })();
    if result.is_err() {
        // SAFETY: a failed cache refresh only costs stale source lines in tracebacks.
        unsafe { pyo3::ffi::PyErr_Clear() };
    }
}

/// A function's own `__dict__`, if it has one: reading `__dict__` would make an empty one
/// for every function of a module.
fn own_dict<'py>(function: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    // SAFETY: `function` is a plain function (checked by the caller), whose layout pyo3-ffi
    // describes for the Python it was built for; the field is only read.
    let raw = unsafe { (*function.as_ptr().cast::<pyo3::ffi::PyFunctionObject>()).func_dict };
    if raw.is_null() {
        return None;
    }
    // SAFETY: a live borrowed reference held by the function, which outlives this call.
    let dict = unsafe { Bound::from_borrowed_ptr(function.py(), raw) };
    dict.cast_into::<PyDict>().ok()
}

/// A function's code, read without the audit event reading `__code__` raises (a module of
/// 100,000 functions reads it for each); anything else through its attribute.
fn code_of<'py>(function: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if function.is_instance_of::<PyFunction>() {
        // SAFETY: an exact function object; the code is a borrowed reference it holds.
        let raw = unsafe { pyo3::ffi::PyFunction_GetCode(function.as_ptr()) };
        if !raw.is_null() {
            // SAFETY: non-null borrowed reference, kept alive by the function.
            return Ok(unsafe { Bound::from_borrowed_ptr(function.py(), raw) });
        }
    }
    function.getattr(intern!(function.py(), "__code__"))
}

/// A function's `__defaults__` and `__kwdefaults__`, read without audit events as `code_of`.
fn defaults_of<'py>(
    function: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = function.py();
    if function.is_instance_of::<PyFunction>() {
        let read = |raw: *mut pyo3::ffi::PyObject| {
            if raw.is_null() {
                py.None().into_bound(py)
            } else {
                // SAFETY: a borrowed reference held by the function.
                unsafe { Bound::from_borrowed_ptr(py, raw) }
            }
        };
        // SAFETY: an exact function object.
        let (defaults, kwdefaults) = unsafe {
            (
                pyo3::ffi::PyFunction_GetDefaults(function.as_ptr()),
                pyo3::ffi::PyFunction_GetKwDefaults(function.as_ptr()),
            )
        };
        return Ok((read(defaults), read(kwdefaults)));
    }
    Ok((
        function.getattr(intern!(py, "__defaults__"))?,
        function.getattr(intern!(py, "__kwdefaults__"))?,
    ))
}
