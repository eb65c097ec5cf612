//! Carrying out a batch of plans in the interpreter, all or nothing: the transaction.
//!
//! Everything is compiled first, without running anything (`plan`, `compile`). Then
//! statements and new definitions run in their module or class namespace, in file order
//! (`execute`), and every live function using an old code object gets the new one in a
//! single commit during which no Python code runs (`commit`). If any step raises, what was
//! done is undone (`undo`) and the old code keeps running.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod capi;
mod class_namespace;
mod commit;
mod compile;
mod execute;
mod linecache;
mod live_objects;
mod plan;
mod running;
mod running_source;
mod shift;
#[cfg(test)]
mod tests;
mod undo;

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::log::Logger;
use commit::{CollectorPause, Pending, Replaced, commit, notify_conformers};
use execute::{File, execute};
use jurigged_source::{ModuleTree, Op};
use live_objects::modules_for;
use plan::{Prepared, prepare};
use undo::Undo;

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

/// What a batch did.
pub struct Applied {
    /// The operations, in jurigged's words (also logged with `-v`).
    pub done: Vec<String>,
    /// The running statements left alone whose text changed.
    pub running_aliases: Vec<StatementAlias>,
}

/// A top-level statement still running as loaded, whose text a save changed: later saves
/// know it by its new text.
pub struct StatementAlias {
    pub path: PathBuf,
    pub as_loaded: Vec<String>,
    pub now: Vec<String>,
}

/// A batch was not applied: a step raised, and everything done before was undone.
#[derive(Debug, thiserror::Error)]
#[error("{traceback}")]
pub struct NotApplied {
    /// The exception, formatted as Python would, quoting the new source.
    pub traceback: String,
}

/// A line to print once the batch has been applied.
enum Report {
    Update {
        name: String,
        line: usize,
    },
    Add {
        name: String,
        line: usize,
    },
    Run {
        name: String,
        line: usize,
        text: String,
    },
    Delete {
        name: String,
        line: usize,
    },
    Note(String),
}

/// Applies every change or none.
pub fn apply(py: Python<'_>, changes: &[FileChange], log: &Logger) -> Result<Applied, NotApplied> {
    // Before anything changes (another thread may run during the batch), and true whether
    // it succeeds or not: every code object alive now came from the previous version.
    for change in changes {
        running_source::remember_running(py, &change.code_filename, &change.old_source);
    }
    let mut undo = Undo::default();
    let mut reports = Vec::new();
    let mut aliases = Vec::new();
    match apply_all(py, changes, &mut undo, &mut reports, &mut aliases) {
        Ok(()) => {
            for change in changes {
                linecache::refresh(py, &change.code_filename, &change.new_source);
            }
            let done = reports
                .into_iter()
                .filter_map(|report| log_report(log, report))
                .collect();
            Ok(Applied {
                done,
                running_aliases: aliases,
            })
        }
        Err(err) => {
            undo.rollback(py);
            // The traceback quotes the new source, which is what raised.
            for change in changes {
                linecache::refresh(py, &change.code_filename, &change.new_source);
            }
            let traceback = crate::python::format_traceback(py, &err);
            for change in changes {
                linecache::refresh(py, &change.code_filename, &change.old_source);
            }
            Err(NotApplied { traceback })
        }
    }
}

/// Logs a report; returns the operation in jurigged's words (none for a note).
fn log_report(log: &Logger, report: Report) -> Option<String> {
    Some(match report {
        Report::Update { name, line } => {
            log.update(&name, line);
            format!("Update {name}")
        }
        Report::Add { name, line } => {
            log.add(&name, line);
            format!("Add {name}")
        }
        Report::Run { name, line, text } => {
            log.run(&name, line, &text);
            format!("Run {name} @L{line}")
        }
        Report::Delete { name, line } => {
            log.delete(&name, line);
            format!("Delete {name}")
        }
        Report::Note(text) => {
            log.error(&text);
            return None;
        }
    })
}

fn apply_all(
    py: Python<'_>,
    changes: &[FileChange],
    undo: &mut Undo,
    reports: &mut Vec<Report>,
    aliases: &mut Vec<StatementAlias>,
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
