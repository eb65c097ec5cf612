//! Two versions of a module → the operations between them, parsing only what a save
//! touched. The versions share a first and a last part byte for byte; cut at top-level
//! statements that start both versions (the outline scan finds them), the part between is
//! all that is parsed and diffed, and everything after it only moves: one `Shift`. A 10 MB
//! module with one function changed costs a scan and a parse of that function.
//!
//! When the cut cannot be trusted (the scan is unsure, the changed part does not parse on
//! its own, a name it adds or removes is also bound outside it), both versions are parsed
//! whole, as before.

use std::ops::Range;

use super::diff::{Op, diff};
use super::outline::{self, Statement};
use super::parse::{Definition, ModuleTree, ParseError, parse};

/// What a save changed.
#[derive(Debug)]
pub struct Changes {
    /// The definitions of the old version the save touched (the whole module when the
    /// change could not be narrowed down), at their real line numbers.
    pub old_tree: ModuleTree,
    /// The same part of the new version.
    pub new_tree: ModuleTree,
    pub ops: Vec<Op>,
    /// Top-level functions and classes outside the trees, untouched by the save.
    pub untouched_definitions: usize,
}

/// The operations that turn `old` into `new`. Fails when `new` has a syntax error.
pub fn changes(old: &str, new: &str) -> Result<Changes, ParseError> {
    if let Some(changes) = narrowed(old, new) {
        return Ok(changes);
    }
    let new_tree = parse(new)?;
    let old_tree = parse(old).unwrap_or_default();
    let ops = diff(&old_tree, &new_tree);
    Ok(Changes {
        old_tree,
        new_tree,
        ops,
        untouched_definitions: 0,
    })
}

fn narrowed(old: &str, new: &str) -> Option<Changes> {
    let region = Region::find(old.as_bytes(), new.as_bytes())?;
    let old_tree = parse_from_line(&old[region.old.clone()], region.first_line).ok()?;
    let new_tree = parse_from_line(&new[region.new.clone()], region.first_line).ok()?;
    let mut ops = diff(&old_tree, &new_tree);
    let binds_outside = ops.iter().any(|op| match op {
        Op::Add { path, .. } | Op::Delete { path, .. } if path.len() == 1 => {
            region.binds_outside(old.as_bytes(), &path[0])
        }
        _ => false,
    });
    if binds_outside {
        return None;
    }
    if let Some((from_line, delta)) = region.shift
        && delta != 0
    {
        ops.push(Op::Shift { from_line, delta });
    }
    Some(Changes {
        old_tree,
        new_tree,
        ops,
        untouched_definitions: region.untouched_definitions(),
    })
}

/// Parses `text`, a part of a module starting on line `first_line`, with the module's
/// line numbers.
fn parse_from_line(text: &str, first_line: usize) -> Result<ModuleTree, ParseError> {
    let mut tree = parse(text)?;
    for definition in &mut tree.definitions {
        move_lines(definition, first_line - 1);
    }
    Ok(tree)
}

fn move_lines(definition: &mut Definition, by: usize) {
    definition.line += by;
    definition.end_line += by;
    definition.def_line += by;
    definition.header_lines.0 += by;
    definition.header_lines.1 += by;
    for child in &mut definition.children {
        move_lines(child, by);
    }
}

/// The part of both versions a save touched, in whole top-level statements.
struct Region {
    old: Range<usize>,
    new: Range<usize>,
    /// The line both parts start on.
    first_line: usize,
    /// The old version's statements; those before `inside.start` and from `inside.end` on
    /// are untouched.
    statements: Vec<Statement>,
    inside: Range<usize>,
    /// The old line where the untouched end starts, and how far it moved.
    shift: Option<(usize, i64)>,
}

impl Region {
    fn find(old: &[u8], new: &[u8]) -> Option<Region> {
        let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let most = old.len().min(new.len()) - prefix;
        let suffix = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take(most)
            .take_while(|(a, b)| a == b)
            .count();
        let statements = outline::statements(old)?;
        let new_statements = outline::statements(new)?;
        let starts_new = |at: usize| {
            new_statements
                .binary_search_by_key(&at, |s| s.start)
                .ok()
                .map(|index| &new_statements[index])
        };
        // The last statement starting both versions at or before the first changed byte.
        let before = statements.partition_point(|s| s.start <= prefix);
        let first = (0..before)
            .rev()
            .find(|&index| starts_new(statements[index].start).is_some());
        let (start, first_line) =
            first.map_or((0, 1), |i| (statements[i].start, statements[i].line));
        // The first statement starting both versions at or after the last changed byte.
        let growth = new.len() as i64 - old.len() as i64;
        let old_tail = old.len() - suffix;
        let after = statements.partition_point(|s| s.start < old_tail);
        let last = (after..statements.len()).find_map(|index| {
            let moved = (statements[index].start as i64 + growth) as usize;
            starts_new(moved).map(|in_new| (index, in_new))
        });
        let (end_old, end_new, end_index, shift) = match last {
            Some((index, in_new)) => {
                let in_old = &statements[index];
                let delta = in_new.line as i64 - in_old.line as i64;
                (
                    in_old.start,
                    in_new.start,
                    index,
                    Some((in_old.line, delta)),
                )
            }
            None => (old.len(), new.len(), statements.len(), None),
        };
        Some(Region {
            old: start..end_old,
            new: start..end_new,
            first_line,
            inside: first.unwrap_or(0)..end_index,
            statements,
            shift,
        })
    }

    fn outside(&self) -> impl Iterator<Item = &Statement> {
        self.statements[..self.inside.start]
            .iter()
            .chain(&self.statements[self.inside.end..])
    }

    /// A top-level `def` or `class` outside the region binds `name`.
    fn binds_outside(&self, old: &[u8], name: &str) -> bool {
        self.outside()
            .any(|s| s.name.is_some_and(|(a, b)| &old[a..b] == name.as_bytes()))
    }

    fn untouched_definitions(&self) -> usize {
        self.outside().filter(|s| s.name.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn module(functions: usize) -> String {
        (0..functions)
            .map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n"))
            .collect()
    }

    #[test]
    fn a_change_in_a_big_module_parses_only_its_statement() {
        let old = module(1000);
        let new = format!("# new first line\n{}", old.replace("x + 5\n", "x + 7\n"));
        let changes = changes(&old, &new).unwrap();
        assert_eq!(changes.new_tree.definitions.len(), 6);
        assert_eq!(changes.untouched_definitions, 994);
        assert_eq!(
            changes.ops,
            diff(&parse(&old).unwrap(), &parse(&new).unwrap())
                .into_iter()
                .filter(|op| !matches!(op, Op::Move { old_line, .. } if *old_line > 21))
                .chain([Op::Shift {
                    from_line: 25,
                    delta: 1
                }])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_same_as_a_whole_diff_for_small_edits() {
        let old = "import os\n\nclass C:\n    def m(self):\n        return 1\n\ndef g():\n    return 2\n\nx = g()\n";
        for new in [
            "import os\n\nclass C:\n    def m(self):\n        return 3\n\ndef g():\n    return 2\n\nx = g()\n",
            "import os\n\nclass C:\n    def m(self):\n        return 1\n\ndef h():\n    return 2\n\nx = g()\n",
            "import os\n\nclass C:\n    def m(self):\n        return 1\n\n@dec\ndef g():\n    return 2\n\nx = g()\n",
            "import os, sys\n",
        ] {
            // Statements have no line numbers to move: a whole diff has no op for them.
            let narrowed: Vec<Op> = changes(old, new)
                .unwrap()
                .ops
                .into_iter()
                .filter(|op| !matches!(op, Op::Shift { from_line: 10, .. }))
                .collect();
            let whole = diff(&parse(old).unwrap(), &parse(new).unwrap());
            assert_eq!(narrowed, whole, "{new}");
        }
    }

    #[test]
    fn an_else_added_after_an_if_joins_it() {
        let old = "if a:\n    x = 1\ny = 2\n";
        let new = "if a:\n    x = 1\nelse:\n    x = 3\ny = 2\n";
        let changes = changes(old, new).unwrap();
        assert_eq!(changes.new_tree.definitions.len(), 1);
        assert_eq!(changes.new_tree.definitions[0].kind, Kind::Statement);
        assert_eq!(changes.new_tree.definitions[0].end_line, 4);
    }

    #[test]
    fn a_name_also_bound_outside_the_change_is_diffed_whole() {
        let old = "def f():\n    return 1\n\ndef g():\n    pass\n\ndef f():\n    return 2\n";
        let new = "def g():\n    pass\n\ndef f():\n    return 2\n";
        let changes = changes(old, new).unwrap();
        assert_eq!(changes.untouched_definitions, 0);
        assert_eq!(
            changes.ops,
            diff(&parse(old).unwrap(), &parse(new).unwrap())
        );
    }

    #[test]
    fn an_opened_string_swallowing_the_rest_is_a_syntax_error_or_whole() {
        let old = "def f():\n    return 1\n\ndef g():\n    return 2\n";
        let new = "def f():\n    return '''1\n\ndef g():\n    return 2\n";
        assert!(changes(old, new).is_err());
    }
}
