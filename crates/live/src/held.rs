//! Saves that would delete most of a module are held back until they prove stable: far
//! more often a save in progress than the user's intent.

use std::path::Path;
use std::time::{Duration, Instant};

use jurigged_source::{self as source, ModuleTree};

use crate::reads::Reads;
use crate::session::{Session, lock};

/// How long a save that deletes most of a module must stay unchanged before it is applied.
const MASS_DELETION_SETTLE: Duration = Duration::from_secs(1);

/// A save held back because it would delete most of a module's definitions.
pub(crate) struct Held {
    source: String,
    since: Instant,
}

/// Whether to hold back a save that deletes more than half of a module's definitions (an
/// emptied file deletes them all): far more often a save in progress than the user's
/// intent. It is applied once it has stayed the same for MASS_DELETION_SETTLE, so a real
/// deletion still works; one line says so when the hold begins.
pub(crate) fn held_back(
    session: &Session,
    path: &Path,
    code_filename: &str,
    changes: &source::Changes,
    new_source: &str,
    reads: &mut dyn Reads,
) -> bool {
    let (lost, touched) = lost_definitions(&changes.old_tree, &changes.new_tree);
    let total = touched + changes.untouched_definitions;
    let mut held = lock(&session.held);
    if lost == 0 || lost * 2 <= total {
        held.remove(path);
        return false;
    }
    let now = Instant::now();
    match held.get(path) {
        Some(hold) if hold.source == new_source => {
            let waited = now.saturating_duration_since(hold.since);
            if waited >= MASS_DELETION_SETTLE {
                held.remove(path);
                return false;
            }
            reads.hold(path, MASS_DELETION_SETTLE - waited)
        }
        previous => {
            let first = previous.is_none();
            if !reads.hold(path, MASS_DELETION_SETTLE) {
                return false;
            }
            held.insert(
                path.to_path_buf(),
                Held {
                    source: new_source.to_string(),
                    since: now,
                },
            );
            drop(held);
            if first {
                let what = if new_source.trim().is_empty() {
                    format!("is empty, which would delete all {total} of its definitions")
                } else {
                    format!("lost {lost} of {total} definitions in one save")
                };
                session.log.error(&format!(
                    "jurigged: {code_filename} {what}; applying it only if it stays so for a second"
                ));
            }
            true
        }
    }
}

/// How many of the old version's functions and classes (methods included) the new version
/// no longer has, out of how many.
fn lost_definitions(old: &ModuleTree, new: &ModuleTree) -> (usize, usize) {
    fn names(prefix: &str, body: &[source::Definition], into: &mut Vec<String>) {
        for definition in body {
            if definition.kind == source::Kind::Statement {
                continue;
            }
            let name = format!("{prefix}.{}", definition.name);
            names(&name, &definition.children, into);
            into.push(name);
        }
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    names("", &old.definitions, &mut before);
    names("", &new.definitions, &mut after);
    let after: std::collections::HashSet<String> = after.into_iter().collect();
    let lost = before.iter().filter(|name| !after.contains(*name)).count();
    (lost, before.len())
}

#[cfg(test)]
mod tests {
    use super::lost_definitions;
    use jurigged_source::parse;

    #[test]
    fn lost_definitions_count_methods_and_ignore_statements() {
        let old = parse("x = 1\ndef f(): pass\nclass C:\n    def m(self): pass\n").unwrap();
        let new = parse("x = 2\ndef f(): pass\n").unwrap();
        assert_eq!(lost_definitions(&old, &new), (2, 3));
        assert_eq!(lost_definitions(&old, &old), (0, 3));
    }
}
