//! Turning saved files into changes and applying them: the watcher thread's batches, and
//! hot restart's `c` (apply what is saved, now). Planning is pure Rust; applying holds the
//! GIL, one batch at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jurigged_source as source;
use pyo3::prelude::*;

use crate::apply::{self, FileChange};
use crate::decode_source;
use crate::held::held_back;
use crate::hooks;
use crate::reads::{DiskReads, Reads, WatcherReads};
use crate::report::{error_summary, report_syntax_error};
use crate::session::{self, Session, lock};
use crate::watch::Batch;

/// Runs on the watcher thread for every batch of saved files.
pub(crate) fn on_batch(session: &Session, batch: &mut Batch) {
    let _turn = lock(&session.applying);
    let paths = std::mem::take(&mut batch.paths);
    apply_paths(session, paths, &mut WatcherReads(batch));
}

/// Applies every saved change now, from the calling thread (hot_restart's `c`: the fix
/// saved a moment ago must be in place before the function runs again). Returns the
/// files whose saved version is still not running (a syntax error, a failed statement),
/// as the interpreter names them; each was reported already.
pub fn apply_saved_changes(py: Python<'_>) -> Vec<String> {
    let Some(session) = session::current() else {
        return Vec::new();
    };
    let session = &*session;
    py.detach(|| {
        let _turn = lock(&session.applying);
        let paths: Vec<PathBuf> = lock(&session.files).keys().cloned().collect();
        apply_paths(session, paths.clone(), &mut DiskReads);
        let files = lock(&session.files);
        paths
            .iter()
            .filter_map(|path| {
                let watched = files.get(path)?;
                // A file never patched (not UTF-8) cannot hold up a revival.
                let running = watched.source.as_deref()?;
                let on_disk = decode_source(&std::fs::read(path).ok()?)?;
                (running != on_disk).then(|| watched.code_filename.clone())
            })
            .collect()
    })
}

fn apply_paths(session: &Session, mut paths: Vec<PathBuf>, reads: &mut dyn Reads) {
    for path in lock(&session.retry).drain(..) {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let mut changes = Vec::new();
    for path in paths {
        if let Some(change) = plan_file(session, &path, reads) {
            changes.push(change);
        }
    }
    if changes.is_empty() {
        return;
    }
    let changed_code = changes.iter().any(|change| !change.ops.is_empty());
    let Some(result) = Python::try_attach(|py| {
        let result = apply::apply(py, &changes, &session.log);
        if let Ok(applied) = &result {
            hooks::emit(
                py,
                &hooks::PatchEvent::Applied {
                    done: &applied.done,
                    changed_code,
                },
            );
        }
        result
    }) else {
        return;
    };
    match result {
        Ok(applied) => {
            let mut files = lock(&session.files);
            for apply::StatementAlias {
                path,
                as_loaded,
                now,
            } in applied.running_aliases
            {
                if let Some(watched) = files.get_mut(&path) {
                    watched
                        .running_aliases
                        .retain(|(loaded, _)| *loaded != as_loaded);
                    watched.running_aliases.push((as_loaded, now));
                }
            }
            for change in changes {
                if let Some(watched) = files.get_mut(&change.path) {
                    watched.source = Some(Arc::from(change.new_source));
                }
            }
        }
        Err(apply::NotApplied { traceback: report }) => {
            lock(&session.retry).extend(changes.iter().map(|c| c.path.clone()));
            hooks::emit_attached(&hooks::PatchEvent::NotApplied {
                summary: &error_summary(&report),
            });
            let names: Vec<String> = changes.iter().map(|c| c.code_filename.clone()).collect();
            session.log.error(&format!(
                "jurigged: could not apply the change to {}; the previous version keeps running.\n{report}",
                names.join(", ")
            ));
        }
    }
}

/// Reads a saved file and diffs it against the running version. `None` when there is
/// nothing to apply (unchanged, deleted, unreadable, or a syntax error, reported here).
fn plan_file(session: &Session, path: &Path, reads: &mut dyn Reads) -> Option<FileChange> {
    let (code_filename, old_source, loaded_source, running_aliases, is_main) = {
        let files = lock(&session.files);
        let watched = files.get(path)?;
        (
            watched.code_filename.clone(),
            watched.source.clone(),
            watched.loaded_source.clone(),
            watched.running_aliases.clone(),
            watched.is_main,
        )
    };
    // A deleted file changes nothing: it may be recreated in a moment.
    let bytes = reads.read(path)?;
    let Some(old_source) = old_source else {
        // Python could not decode it either (the import failed): quiet until it can be.
        if decode_source(&bytes).is_some() {
            session.log.error(&format!(
                "jurigged: {code_filename} could not be decoded when it was loaded; changes to it are not applied"
            ));
        }
        return None;
    };
    let Some(new_source) = decode_source(&bytes) else {
        session.log.error(&format!(
            "jurigged: {code_filename} is not valid in its encoding (UTF-8 unless a coding comment says otherwise); the change was not applied"
        ));
        return None;
    };
    if *new_source == *old_source {
        lock(&session.held).remove(path);
        return None;
    }
    // Only what the save touched is parsed: watching costs nothing for files never edited
    // (with `-w /`, the whole standard library), and a save costs the size of the change.
    let changes = match source::changes(&old_source, &new_source) {
        Ok(changes) => {
            lock(&session.reported_syntax_errors).remove(&code_filename);
            changes
        }
        Err(error) => {
            report_syntax_error(session, &code_filename, &new_source, error.line);
            return None;
        }
    };
    // The first time a change comes, the running version is still the loaded one.
    let loaded_source = match loaded_source {
        Some(loaded) => loaded,
        None => {
            let loaded = Arc::clone(&old_source);
            let mut files = lock(&session.files);
            if let Some(watched) = files.get_mut(path) {
                watched.loaded_source = Some(Arc::clone(&loaded));
            }
            loaded
        }
    };
    if held_back(session, path, &code_filename, &changes, &new_source, reads) {
        return None;
    }
    Some(FileChange {
        path: path.to_path_buf(),
        code_filename,
        is_main,
        old_source,
        old_tree: changes.old_tree,
        loaded_source,
        running_aliases,
        new_source,
        new_tree: changes.new_tree,
        ops: changes.ops,
    })
}
