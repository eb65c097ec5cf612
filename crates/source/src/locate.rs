//! Finding definitions again in a parsed module, and cutting a module down to some of its
//! lines so that one definition can be compiled exactly where it stands.

use super::parse::{Definition, Kind, ModuleTree};

/// The classes enclosing `path` (outermost first) and the definition of `path` that starts
/// at `line`. For a statement, `path` is its parent's path.
pub fn locate<'t>(
    tree: &'t ModuleTree,
    path: &[String],
    line: usize,
) -> Option<(Vec<&'t Definition>, &'t Definition)> {
    let mut classes = Vec::new();
    let mut body = &tree.definitions;
    let mut remaining = path;
    loop {
        if let Some(found) = body.iter().find(|d| d.line == line && d.end_line >= line) {
            let is_leaf = match found.kind {
                Kind::Statement => remaining.is_empty(),
                _ => remaining.len() == 1 && remaining[0] == found.name,
            };
            if is_leaf {
                return Some((classes, found));
            }
        }
        let (first, rest) = remaining.split_first()?;
        let class = body.iter().find(|d| {
            d.kind == Kind::Class && d.name == *first && d.line <= line && line <= d.end_line
        })?;
        classes.push(class);
        body = &class.children;
        remaining = rest;
    }
}

/// `source` with every line outside `keep` (1-based, inclusive ranges) emptied, so that the
/// kept lines compile at their real line numbers.
pub fn mask(source: &str, keep: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(source.len());
    for (index, line) in source.split_inclusive('\n').enumerate() {
        let number = index + 1;
        if keep
            .iter()
            .any(|(start, end)| *start <= number && number <= *end)
        {
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const SOURCE: &str = "import os\n\nclass A:\n    x = 1\n\n    class B:\n        def m(self):\n            return 1\n\ndef f():\n    pass\n";

    #[test]
    fn locates_nested_definitions_and_statements() {
        let tree = parse(SOURCE).unwrap();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (classes, m) = locate(&tree, &path(&["A", "B", "m"]), 7).unwrap();
        assert_eq!(
            classes.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert_eq!((m.name.as_str(), m.end_line), ("m", 8));
        let (classes, x) = locate(&tree, &path(&["A"]), 4).unwrap();
        assert_eq!((classes.len(), x.kind), (1, Kind::Statement));
        let (classes, f) = locate(&tree, &path(&["f"]), 10).unwrap();
        assert_eq!((classes.len(), f.name.as_str()), (0, "f"));
        assert!(locate(&tree, &path(&["f"]), 11).is_none());
    }

    #[test]
    fn masking_keeps_line_numbers() {
        let masked = mask(SOURCE, &[(3, 3), (6, 6), (7, 8)]);
        let lines: Vec<&str> = masked.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[2], "class A:");
        assert_eq!(lines[3], "");
        assert_eq!(lines[6], "        def m(self):");
        assert_eq!(lines[9], "");
    }
}
