//! Two versions of a module → the operations that turn the live module from one into the
//! other (a `Plan`). Pure data: `live` carries it out.
//!
//! Definitions are matched within their parent by kind and name (in order, for duplicates
//! such as a property's getter and setter); statements by their tokens. Deletions come after
//! every other operation of the same parent, so a rename adds the new name before the old
//! one goes.

use std::collections::{HashMap, HashSet};

use super::parse::{Definition, Kind, ModuleTree};

/// A qualified path inside a module: `["C", "m"]` for method `m` of class `C`.
pub type Path = Vec<String>;

/// One change to apply to the live module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A function's code changed: compile it in place and give its code to every live
    /// function object using the old code. `quiet` when only its layout (blank lines,
    /// comments) changed, which still moves line numbers inside it.
    Update {
        path: Path,
        old_line: usize,
        new_line: usize,
        defaults_changed: bool,
        quiet: bool,
    },
    /// Execute a definition in its parent's namespace: a new function or class, or one whose
    /// decorators or class header changed (it is rebuilt and its name rebound).
    Add { path: Path, line: usize, kind: Kind },
    /// Run a new or changed statement in the module or class namespace.
    Run {
        parent: Path,
        line: usize,
        end_line: usize,
        text: String,
    },
    /// A definition disappeared. Functions and classes lose their name; for statements this
    /// is only reported (what they did stays done), and `path` is their parent's.
    Delete { path: Path, line: usize, kind: Kind },
    /// An unchanged function moved: shift its line numbers.
    Move {
        path: Path,
        old_line: usize,
        new_line: usize,
    },
    /// Everything from `from_line` of the old version on is unchanged and moved by `delta`
    /// lines: the rest of a module after the part a save touched.
    Shift { from_line: usize, delta: i64 },
}

/// Computes the operations that turn `old` into `new`.
pub fn diff(old: &ModuleTree, new: &ModuleTree) -> Vec<Op> {
    let mut ops = Vec::new();
    diff_body(&[], &old.definitions, &new.definitions, &mut ops);
    ops
}

fn diff_body(parent: &[String], old: &[Definition], new: &[Definition], ops: &mut Vec<Op>) {
    let mut used = vec![false; old.len()];
    // Candidates by name (definitions) or tokens (statements), in order: matching stays
    // linear in the size of the module (a 10 MB module has over 100,000 definitions).
    let mut by_name: HashMap<(Kind, &str), Vec<usize>> = HashMap::new();
    let mut by_tokens: HashMap<&[String], Vec<usize>> = HashMap::new();
    for (index, definition) in old.iter().enumerate() {
        match definition.kind {
            Kind::Statement => by_tokens
                .entry(&definition.body_tokens)
                .or_default()
                .push(index),
            kind => by_name
                .entry((kind, &definition.name))
                .or_default()
                .push(index),
        }
    }
    let no_candidates = Vec::new();
    for definition in new {
        let found = match definition.kind {
            Kind::Statement => {
                let candidates = by_tokens
                    .get(definition.body_tokens.as_slice())
                    .unwrap_or(&no_candidates);
                first_unused(candidates, &used, |_| true)
            }
            kind => {
                let candidates = by_name
                    .get(&(kind, definition.name.as_str()))
                    .unwrap_or(&no_candidates);
                first_unused(candidates, &used, |index| {
                    same_tokens(&old[index], definition)
                })
                .or_else(|| first_unused(candidates, &used, |_| true))
            }
        };
        let path = child_path(parent, &definition.name);
        match found {
            None if definition.kind == Kind::Statement => ops.push(Op::Run {
                parent: parent.to_vec(),
                line: definition.line,
                end_line: definition.end_line,
                text: definition.text.clone(),
            }),
            None => ops.push(Op::Add {
                path,
                line: definition.line,
                kind: definition.kind,
            }),
            Some(index) => {
                used[index] = true;
                compare(&path, &old[index], definition, ops);
            }
        }
    }
    let new_names: HashSet<&str> = new
        .iter()
        .filter(|n| n.kind != Kind::Statement)
        .map(|n| n.name.as_str())
        .collect();
    for (index, definition) in old.iter().enumerate() {
        if used[index] {
            continue;
        }
        // A name still bound by a new function or class is rebound, not deleted.
        let rebound =
            definition.kind != Kind::Statement && new_names.contains(definition.name.as_str());
        if !rebound {
            let path = match definition.kind {
                Kind::Statement => parent.to_vec(),
                _ => child_path(parent, &definition.name),
            };
            ops.push(Op::Delete {
                path,
                line: definition.line,
                kind: definition.kind,
            });
        }
    }
}

fn compare(path: &Path, old: &Definition, new: &Definition, ops: &mut Vec<Op>) {
    match new.kind {
        Kind::Statement => {}
        // A class whose header changed, or whose body shares the header's line (it cannot be
        // patched member by member), is rebuilt whole.
        Kind::Class
            if old.inline_body || new.inline_body || old.header_tokens != new.header_tokens =>
        {
            if !same_tokens(old, new) || old.inline_body != new.inline_body {
                ops.push(Op::Add {
                    path: path.clone(),
                    line: new.line,
                    kind: Kind::Class,
                });
            }
        }
        Kind::Class => diff_body(path, &old.children, &new.children, ops),
        Kind::Function if old.header_tokens != new.header_tokens => ops.push(Op::Add {
            path: path.clone(),
            line: new.line,
            kind: Kind::Function,
        }),
        Kind::Function => {
            let tokens_changed = old.body_tokens != new.body_tokens;
            if tokens_changed || old.body_rows != new.body_rows {
                ops.push(Op::Update {
                    path: path.clone(),
                    old_line: old.line,
                    new_line: new.line,
                    defaults_changed: old.parameter_tokens != new.parameter_tokens,
                    quiet: !tokens_changed,
                });
            } else if old.line != new.line {
                ops.push(Op::Move {
                    path: path.clone(),
                    old_line: old.line,
                    new_line: new.line,
                });
            }
        }
    }
}

/// Same tokens throughout (for classes, recursively); line positions may differ.
fn same_tokens(a: &Definition, b: &Definition) -> bool {
    a.header_tokens == b.header_tokens
        && a.body_tokens == b.body_tokens
        && a.children.len() == b.children.len()
        && a.children
            .iter()
            .zip(&b.children)
            .all(|(x, y)| x.kind == y.kind && x.name == y.name && same_tokens(x, y))
}

fn first_unused(
    candidates: &[usize],
    used: &[bool],
    matches: impl Fn(usize) -> bool,
) -> Option<usize> {
    candidates
        .iter()
        .copied()
        .find(|&index| !used[index] && matches(index))
}

fn child_path(parent: &[String], name: &str) -> Path {
    let mut path = parent.to_vec();
    path.push(name.to_string());
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn plan(old: &str, new: &str) -> Vec<Op> {
        diff(&parse(old).unwrap(), &parse(new).unwrap())
    }

    fn p(parts: &[&str]) -> Path {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unchanged_source_is_an_empty_plan() {
        let source = "x = 1\ndef f():\n    return x\nclass C:\n    def m(self):\n        pass\n";
        assert_eq!(plan(source, source), []);
    }

    #[test]
    fn changed_body_is_an_update_and_functions_below_move() {
        let old = "def f():\n    return 1\n\ndef g():\n    return 2\n";
        let new = "def f():\n    x = 1\n    return x\n\ndef g():\n    return 2\n";
        assert_eq!(
            plan(old, new),
            [
                Op::Update {
                    path: p(&["f"]),
                    old_line: 1,
                    new_line: 1,
                    defaults_changed: false,
                    quiet: false
                },
                Op::Move {
                    path: p(&["g"]),
                    old_line: 4,
                    new_line: 5
                },
            ]
        );
    }

    #[test]
    fn comments_are_not_changes_but_inner_blank_lines_recompile_quietly() {
        let old = "def f():\n    a = 1\n    return a\n";
        assert_eq!(plan(old, "def f():\n    a = 1  # note\n    return a\n"), []);
        assert_eq!(
            plan(old, "def f():\n    a = 1\n\n    return a\n"),
            [Op::Update {
                path: p(&["f"]),
                old_line: 1,
                new_line: 1,
                defaults_changed: false,
                quiet: true
            }]
        );
    }

    #[test]
    fn signature_changes_flag_defaults() {
        let ops = plan("def f(x=1):\n    pass\n", "def f(x=2):\n    pass\n");
        assert!(matches!(
            &ops[..],
            [Op::Update {
                defaults_changed: true,
                ..
            }]
        ));
    }

    #[test]
    fn methods_are_diffed_inside_their_class() {
        let old = "class C:\n    color = 'red'\n    def m(self):\n        return 1\n";
        let new = "class C:\n    color = 'blue'\n    def m(self):\n        return 2\n    def n(self):\n        pass\n";
        assert_eq!(
            plan(old, new),
            [
                Op::Run {
                    parent: p(&["C"]),
                    line: 2,
                    end_line: 2,
                    text: "    color = 'blue'".into()
                },
                Op::Update {
                    path: p(&["C", "m"]),
                    old_line: 3,
                    new_line: 3,
                    defaults_changed: false,
                    quiet: false
                },
                Op::Add {
                    path: p(&["C", "n"]),
                    line: 5,
                    kind: Kind::Function
                },
                Op::Delete {
                    path: p(&["C"]),
                    line: 2,
                    kind: Kind::Statement
                },
            ]
        );
    }

    #[test]
    fn decorator_or_class_header_changes_rebuild_the_definition() {
        let ops = plan("def f():\n    pass\n", "@cache\ndef f():\n    pass\n");
        assert_eq!(
            ops,
            [Op::Add {
                path: p(&["f"]),
                line: 1,
                kind: Kind::Function
            }]
        );
        let ops = plan("class C:\n    x = 1\n", "class C(Base):\n    x = 1\n");
        assert_eq!(
            ops,
            [Op::Add {
                path: p(&["C"]),
                line: 1,
                kind: Kind::Class
            }]
        );
    }

    #[test]
    fn rename_adds_then_deletes() {
        let ops = plan("def f():\n    pass\n", "def g():\n    pass\n");
        assert_eq!(
            ops,
            [
                Op::Add {
                    path: p(&["g"]),
                    line: 1,
                    kind: Kind::Function
                },
                Op::Delete {
                    path: p(&["f"]),
                    line: 1,
                    kind: Kind::Function
                },
            ]
        );
    }

    #[test]
    fn statements_run_when_new_and_are_reported_when_gone() {
        let ops = plan("a = 1; b = 2\nlog = []\n", "a = 10; b = 2\nlog = []\n");
        // tree-sitter splits `a = 1; b = 2` into two statements: only `a` runs again.
        assert_eq!(
            ops,
            [
                Op::Run {
                    parent: vec![],
                    line: 1,
                    end_line: 1,
                    text: "a = 10".into()
                },
                Op::Delete {
                    path: vec![],
                    line: 1,
                    kind: Kind::Statement
                },
            ]
        );
    }

    #[test]
    fn property_getter_and_setter_pair_in_order() {
        let old = "class C:\n    @property\n    def x(self):\n        return 1\n    @x.setter\n    def x(self, v):\n        pass\n";
        let new = "class C:\n    @property\n    def x(self):\n        return 2\n    @x.setter\n    def x(self, v):\n        pass\n";
        assert_eq!(
            plan(old, new),
            [Op::Update {
                path: p(&["C", "x"]),
                old_line: 2,
                new_line: 2,
                defaults_changed: false,
                quiet: false
            }]
        );
    }

    #[test]
    fn moving_a_class_moves_its_methods() {
        let old = "class C:\n    def m(self):\n        pass\n";
        let new = "\n\nclass C:\n    def m(self):\n        pass\n";
        assert_eq!(
            plan(old, new),
            [Op::Move {
                path: p(&["C", "m"]),
                old_line: 2,
                new_line: 4
            }]
        );
    }
}
