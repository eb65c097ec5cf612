//! Planning a file's operations: each op of the diff becomes a prepared step, compiled and
//! matched with the live objects it concerns. Nothing runs here, so a compile error (or a
//! definition that cannot be found) changes nothing.

use std::collections::HashSet;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyType};

use jurigged_source::{Definition, Kind, Op};

use super::compile::{Compiler, Decorators, code_at, find, keep_lines, same_free_variables};
use super::live_objects::{LiveModule, LiveObjects};
use super::running::{running_statements, skipped_runs};
use super::shift::shift_lines;
use super::{FileChange, Report, StatementAlias};

/// Where an executed definition or statement lands.
pub enum Namespace<'py> {
    Module(Bound<'py, PyModule>),
    Class(Bound<'py, PyType>),
}

/// One prepared step; nothing has run yet.
pub enum Step<'py> {
    /// Give `new_code` to every function using one of `old` codes.
    Swap {
        /// The function's name, which a later statement may call.
        name: String,
        old: Vec<Bound<'py, PyAny>>,
        new_code: Bound<'py, PyAny>,
        defaults: Option<NewDefaults<'py>>,
        report: Option<Report>,
    },
    /// Run `code` in a namespace of each module (a new definition or a statement).
    Exec {
        code: Bound<'py, PyAny>,
        /// The name a new definition binds (a binder hook may bind something else).
        defines: Option<String>,
        targets: Vec<ExecTarget<'py>>,
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

/// A def without its decorators, to run in a scratch namespace for its new defaults.
pub struct NewDefaults<'py> {
    pub code: Bound<'py, PyAny>,
    pub namespace: Namespace<'py>,
    pub name: String,
}

/// A module loaded from the file, and the namespace in it where the code runs.
pub struct ExecTarget<'py> {
    /// Its globals.
    pub module: Bound<'py, PyModule>,
    pub namespace: Namespace<'py>,
}

/// A code object that only moved, and the functions using it.
pub struct Moved<'py> {
    pub old: Bound<'py, PyAny>,
    pub new: Bound<'py, PyAny>,
    pub users: Vec<Bound<'py, PyAny>>,
    /// It holds nested code (closures made from it have their own code objects).
    pub nested: bool,
}

/// The old version of a module- or class-level function rebuilt because the names it
/// captures changed (a `super()` added or removed): calls to its old function objects
/// (references taken earlier, bound methods, a decorator's wrappers) are forwarded to the
/// rebuilt function. A closure made by a factory has no single successor and is left alone.
pub struct Rebuilt<'py> {
    pub old: Vec<Bound<'py, PyAny>>,
    pub name: String,
    /// The new definition's first line (`co_firstlineno`).
    pub line: usize,
    pub filename: String,
}

/// A file's steps, with what they concern.
pub struct Prepared<'py> {
    pub modules: Vec<LiveModule<'py>>,
    pub live: LiveObjects<'py>,
    pub steps: Vec<Step<'py>>,
}

/// Compiles a file's ops into steps. `modules` are those loaded from it (never empty).
/// Running statements left alone are added to `aliases`; notes go to `reports`.
pub fn prepare<'py>(
    py: Python<'py>,
    change: &FileChange,
    modules: Vec<LiveModule<'py>>,
    reports: &mut Vec<Report>,
    aliases: &mut Vec<StatementAlias>,
) -> PyResult<Prepared<'py>> {
    let mut live = LiveObjects::collect(py, &modules, &change.code_filename)?;
    let main = &modules[0];
    let compiler = Compiler::new(&main.module, &change.new_source, &change.code_filename)?;
    let running = running_statements(py, &modules, change)?;
    let skips = skipped_runs(&change.ops, &running);
    // A statement left running as loaded has a new text now: that is its name from here on.
    for left in skips.left_running {
        if let Some(Op::Run { line, .. }) = change.ops.get(left.op)
            && let Some(new) = change.new_tree.definitions.iter().find(|d| d.line == *line)
        {
            aliases.push(StatementAlias {
                path: change.path.clone(),
                as_loaded: left.as_loaded,
                now: new.body_tokens.clone(),
            });
        }
    }
    let mut steps = Vec::new();
    for (index, op) in change.ops.iter().enumerate() {
        if let Some(note) = skips.skipped.get(&index) {
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
                let module_code =
                    compiler.compile(&keep_lines(&classes, definition, Decorators::Kept))?;
                let new_code = code_at(&module_code, &classes, Some((&name, *new_line)))?;
                if !same_free_variables(&old, &new_code)? {
                    // A closure's captured names changed: the function is rebuilt, like a new one.
                    let report = Report::Add {
                        name: dotted(&main.name, path),
                        line: *new_line,
                    };
                    let mut step = exec_step(&compiler, &modules, &classes, definition, report)?;
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
                        let scratch = compiler.compile(&keep_lines(
                            &classes,
                            definition,
                            Decorators::Left,
                        ))?;
                        Some(NewDefaults {
                            code: code_at(&scratch, &classes, None)?,
                            namespace: namespace_for(&main.module, &classes)?,
                            name: name.clone(),
                        })
                    } else {
                        None
                    };
                    Step::Swap {
                        name,
                        old,
                        new_code,
                        defaults,
                        report: (!quiet).then(|| Report::Update {
                            name: dotted(&main.name, path),
                            line: *old_line,
                        }),
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
                    new_code: shift_lines(first, delta)?.code,
                    old,
                    defaults: None,
                    report: None,
                }
            }
            Op::Shift { from_line, delta } => {
                let mut moves = Vec::new();
                for found in live.codes_from(*from_line) {
                    let shifted = shift_lines(&found.code, *delta)?;
                    moves.push(Moved {
                        old: found.code,
                        new: shifted.code,
                        users: found.users,
                        nested: shifted.nested,
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
                let report = Report::Add {
                    name: dotted(&main.name, path),
                    line: *line,
                };
                exec_step(&compiler, &modules, &classes, definition, report)?
            }
            Op::Run {
                parent, line, text, ..
            } => {
                let (classes, definition) = find(&change.new_tree, parent, *line)?;
                let report = Report::Run {
                    name: dotted(&main.name, parent),
                    line: *line,
                    text: text.clone(),
                };
                exec_step(&compiler, &modules, &classes, definition, report)?
            }
            Op::Delete { path, line, kind } => match kind {
                Kind::Statement => Step::Report(Report::Delete {
                    name: format!("{}.<line>", dotted(&main.name, path)),
                    line: *line,
                }),
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
                        report: Report::Delete {
                            name: dotted(&main.name, path),
                            line: *line,
                        },
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

/// Prepares running a definition or statement in its module or class namespace, in every
/// module loaded from the file.
fn exec_step<'py>(
    compiler: &Compiler<'_, 'py>,
    modules: &[LiveModule<'py>],
    classes: &[&Definition],
    definition: &Definition,
    report: Report,
) -> PyResult<Step<'py>> {
    let code = compiler.body(classes, definition)?;
    let mut targets = Vec::new();
    for module in modules {
        targets.push(ExecTarget {
            module: module.module.clone(),
            namespace: namespace_for(&module.module, classes)?,
        });
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

/// `module.path.to.name`, as reports name a definition.
fn dotted(module: &str, path: &[String]) -> String {
    std::iter::once(module.to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(".")
}
