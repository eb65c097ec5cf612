//! Top-level statements running right now (a script's own main loop): a save that changes
//! one does not start it a second time (jurigged issue #46).

use std::collections::HashMap;

use pyo3::intern;
use pyo3::prelude::*;

use jurigged_source::{Kind, ModuleTree, Op};

use super::FileChange;
use super::live_objects::LiveModule;

/// A top-level statement executing in a module loaded from the changed file.
pub struct RunningStatement {
    /// Its line in the old tree.
    old_line: usize,
    /// The first token of its current text, to find its new version by.
    first_token: String,
    /// Its tokens in the version the module was loaded from.
    as_loaded: Vec<String>,
}

/// The ops a save skips because their statement is running.
#[derive(Default)]
pub struct Skips {
    /// By op index: the note for the user (`{module}` for the module's name), if any.
    pub skipped: HashMap<usize, Option<String>>,
    pub left_running: Vec<LeftRunning>,
}

/// A changed statement left running as loaded.
pub struct LeftRunning {
    /// The index of the `Run` of its new version, skipped.
    pub op: usize,
    /// Its tokens in the version the module was loaded from.
    pub as_loaded: Vec<String>,
}

/// Top-level statements currently executing in these modules (any thread).
pub fn running_statements(
    py: Python<'_>,
    modules: &[LiveModule<'_>],
    change: &FileChange,
) -> PyResult<Vec<RunningStatement>> {
    let mut running = Vec::new();
    // Parsed only if a top-level statement of the module is running (a script's loop).
    let mut loaded: Option<ModuleTree> = None;
    let frames = py.import("sys")?.call_method0("_current_frames")?;
    for frame in frames.call_method0("values")?.try_iter()? {
        let mut frame = frame?;
        while !frame.is_none() {
            let code = frame.getattr(intern!(py, "f_code"))?;
            if code.getattr(intern!(py, "co_name"))?.extract::<String>()? == "<module>" {
                let globals = frame.getattr(intern!(py, "f_globals"))?;
                if modules.iter().any(|m| m.module.dict().is(&globals)) {
                    let line: usize = frame
                        .getattr(intern!(py, "f_lineno"))?
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
            frame = frame.getattr(intern!(py, "f_back"))?;
        }
    }
    Ok(running)
}

/// The running top-level statement at `line` of the version the module was loaded from,
/// found again in the old tree (the part the save touched) by its text (its current text,
/// if a save changed it while it ran).
fn running_in_old_tree(
    change: &FileChange,
    loaded: &ModuleTree,
    line: usize,
) -> Option<RunningStatement> {
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
    Some(RunningStatement {
        old_line: old.line,
        first_token: old.body_tokens.first().cloned().unwrap_or_default(),
        as_loaded: loaded.body_tokens.clone(),
    })
}

/// For each running statement the save changed: the `Run` of its new version is skipped,
/// with a note for the user, and the `Delete` of its old one, silently.
pub fn skipped_runs(ops: &[Op], running: &[RunningStatement]) -> Skips {
    let mut skips = Skips::default();
    for statement in running {
        let old_line = statement.old_line;
        let is_old_version = |op: &Op| matches!(op, Op::Delete { path, line, kind: Kind::Statement } if path.is_empty() && *line == old_line);
        let Some(delete) = ops.iter().position(is_old_version) else {
            continue;
        };
        skips.skipped.insert(delete, None);
        let new_version = ops
            .iter()
            .enumerate()
            .filter_map(|(index, op)| match op {
                Op::Run {
                    parent, text, line, ..
                } if parent.is_empty()
                    && text
                        .trim_start()
                        .starts_with(statement.first_token.as_str()) =>
                {
                    Some((index, *line, text))
                }
                _ => None,
            })
            .min_by_key(|(_, line, _)| line.abs_diff(old_line));
        if let Some((index, line, text)) = new_version {
            let first_line = text.trim().lines().next().unwrap_or_default();
            skips.skipped.insert(
                index,
                Some(format!(
                    "jurigged: not re-running {{module}} @L{line} ({first_line}): it is running now; restart the program to apply it"
                )),
            );
            skips.left_running.push(LeftRunning {
                op: index,
                as_loaded: statement.as_loaded.clone(),
            });
        }
    }
    skips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_loop_is_not_started_again_and_keeps_its_loaded_text() {
        let old = "x = 1\nwhile True:\n    pass\n";
        let new = "x = 1\nwhile True:\n    x += 1\n";
        let changes = jurigged_source::changes(old, new).unwrap();
        let running_loop = changes
            .old_tree
            .definitions
            .iter()
            .find(|d| d.kind == Kind::Statement && d.line == 2)
            .unwrap();
        let running = [RunningStatement {
            old_line: 2,
            first_token: running_loop.body_tokens[0].clone(),
            as_loaded: running_loop.body_tokens.clone(),
        }];
        let skips = skipped_runs(&changes.ops, &running);
        let delete = changes
            .ops
            .iter()
            .position(|op| matches!(op, Op::Delete { line: 2, .. }))
            .unwrap();
        let run = changes
            .ops
            .iter()
            .position(|op| matches!(op, Op::Run { line: 2, .. }))
            .unwrap();
        // The old version goes silently; the new one is not run, with a note.
        assert_eq!(skips.skipped.get(&delete), Some(&None));
        let note = skips.skipped[&run].as_deref().unwrap();
        assert!(
            note.contains("not re-running {module} @L2 (while True:)"),
            "{note}"
        );
        assert_eq!(skips.left_running.len(), 1);
        assert_eq!(skips.left_running[0].op, run);
        assert_eq!(skips.left_running[0].as_loaded, running_loop.body_tokens);
    }

    #[test]
    fn statements_not_running_are_all_applied() {
        let changes = jurigged_source::changes("x = 1\ny = 2\n", "x = 1\ny = 3\n").unwrap();
        let skips = skipped_runs(&changes.ops, &[]);
        assert!(skips.skipped.is_empty());
        assert!(skips.left_running.is_empty());
    }
}
