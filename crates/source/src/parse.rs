//! Python source → a small tree of definitions (tree-sitter; no interpreter involved).
//!
//! A module holds functions, classes and statements; a class holds the same. Functions are
//! leaves: anything inside one (nested functions, closures) is patched with it. Each
//! definition keeps its tokens without comments, so that a comment or a blank line never
//! counts as a change, and the row of each token, so that a change of layout (which moves
//! line numbers inside a function) is still noticed.

use tree_sitter::{Node, Parser};

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Function,
    Class,
    /// Any other statement: an assignment, an import, an `if` block with defs inside...
    Statement,
}

/// One function, class or statement of a module or class body.
#[derive(Debug, Clone)]
pub struct Definition {
    pub kind: Kind,
    /// The bound name (functions and classes); empty for statements.
    pub name: String,
    /// First line, 1-based: the first decorator's line if decorated, like `co_firstlineno`.
    pub line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// Functions: the line of `def` (after the decorators).
    pub def_line: usize,
    /// Classes: the lines of `class X(...):`, without decorators, inclusive.
    pub header_lines: (usize, usize),
    /// Classes: the body starts on the header's line (`class C: pass`).
    pub inline_body: bool,
    /// Decorators (and for classes the `class X(...):` header), comments dropped.
    pub header_tokens: Vec<String>,
    /// Functions and statements: the tokens after the decorators.
    pub body_tokens: Vec<String>,
    /// The row of each body token, relative to `line`.
    pub body_rows: Vec<usize>,
    /// Functions: the tokens of the parameter list (defaults live there).
    pub parameter_tokens: Vec<String>,
    /// The exact source, from the start of the first line (indentation included).
    pub text: String,
    /// Classes: the definitions of the body.
    pub children: Vec<Definition>,
}

/// A parsed module.
#[derive(Debug, Clone, Default)]
pub struct ModuleTree {
    pub definitions: Vec<Definition>,
}

/// Where tree-sitter could not parse the source (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
}

/// Parses a module. Fails when the source has a syntax error anywhere.
pub fn parse(source: &str) -> Result<ModuleTree, ParseError> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("the bundled Python grammar matches tree-sitter's ABI");
    let Some(mut tree) = parser.parse(source, None) else {
        return Err(ParseError { line: 1, column: 1 });
    };
    if tree.root_node().has_error() {
        // The grammar lacks PEP 696 defaults: parse a same-length stand-in; tokens are
        // still read from `source`.
        let retried = super::type_defaults::stand_in(source)
            .and_then(|stand_in| parser.parse(stand_in, None))
            .filter(|retried| !retried.root_node().has_error());
        match retried {
            Some(retried) => tree = retried,
            None => return Err(first_error(tree.root_node())),
        }
    }
    let root = tree.root_node();
    let bytes = source.as_bytes();
    Ok(ModuleTree {
        definitions: body_definitions(root, bytes),
    })
}

fn first_error(node: Node) -> ParseError {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.has_error() {
            return first_error(child);
        }
    }
    let position = node.start_position();
    ParseError {
        line: position.row + 1,
        column: position.column + 1,
    }
}

/// The definitions of a module or class body.
fn body_definitions(body: Node, source: &[u8]) -> Vec<Definition> {
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter(|child| child.kind() != "comment")
        .map(|child| definition(child, source))
        .collect()
}

fn definition(node: Node, source: &[u8]) -> Definition {
    let (decorators, inner) = match node.kind() {
        "decorated_definition" => {
            let inner = node.child_by_field_name("definition").unwrap_or(node);
            let mut cursor = node.walk();
            let decorators: Vec<Node> = node
                .named_children(&mut cursor)
                .filter(|c| c.kind() == "decorator")
                .collect();
            (decorators, inner)
        }
        _ => (Vec::new(), node),
    };
    let line = node.start_position().row + 1;
    let mut definition = Definition {
        kind: Kind::Statement,
        name: String::new(),
        line,
        end_line: last_row(node) + 1,
        def_line: inner.start_position().row + 1,
        header_lines: (line, line),
        inline_body: false,
        header_tokens: Vec::new(),
        body_tokens: Vec::new(),
        body_rows: Vec::new(),
        parameter_tokens: Vec::new(),
        text: text_from_line_start(node, source),
        children: Vec::new(),
    };
    for decorator in &decorators {
        tokens(*decorator, source, &mut definition.header_tokens, None);
    }
    match inner.kind() {
        "function_definition" => {
            definition.kind = Kind::Function;
            definition.name = field_text(inner, "name", source);
            let mut rows = Vec::new();
            tokens(inner, source, &mut definition.body_tokens, Some(&mut rows));
            definition.body_rows = rows.into_iter().map(|row| row + 1 - line).collect();
            if let Some(parameters) = inner.child_by_field_name("parameters") {
                tokens(parameters, source, &mut definition.parameter_tokens, None);
            }
        }
        "class_definition" => {
            definition.kind = Kind::Class;
            definition.name = field_text(inner, "name", source);
            let header_start = inner.start_position().row + 1;
            let body = inner.child_by_field_name("body");
            let body_row = body.map_or(header_start, |b| b.start_position().row + 1);
            definition.inline_body = body_row == header_start;
            definition.header_lines = (header_start, body_row.saturating_sub(1).max(header_start));
            let mut cursor = inner.walk();
            for child in inner.children(&mut cursor) {
                if Some(child) != body {
                    tokens(child, source, &mut definition.header_tokens, None);
                }
            }
            if let Some(body) = body {
                definition.children = body_definitions(body, source);
            }
        }
        _ => {
            let mut rows = Vec::new();
            tokens(node, source, &mut definition.body_tokens, Some(&mut rows));
            definition.body_rows = rows.into_iter().map(|row| row + 1 - line).collect();
        }
    }
    definition
}

/// The last row holding a token of `node` (tree-sitter may end a block after a newline).
fn last_row(node: Node) -> usize {
    let end = node.end_position();
    if end.column == 0 && end.row > node.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

fn field_text(node: Node, field: &str, source: &[u8]) -> String {
    node.child_by_field_name(field)
        .and_then(|n| n.utf8_text(source).ok())
        .unwrap_or_default()
        .to_string()
}

/// The node's source from the start of its first line, so indentation is kept.
fn text_from_line_start(node: Node, source: &[u8]) -> String {
    let start = node.start_byte();
    let line_start = source[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    String::from_utf8_lossy(&source[line_start..node.end_byte()]).into_owned()
}

/// Collects the tokens of `node`, without comments; a string is one token, so that its
/// escape sequences and interpolations need no special care. `rows` gets each token's row.
fn tokens(node: Node, source: &[u8], out: &mut Vec<String>, mut rows: Option<&mut Vec<usize>>) {
    if node.kind() == "comment" {
        return;
    }
    if node.child_count() == 0 || node.kind() == "string" {
        out.push(node.utf8_text(source).unwrap_or_default().to_string());
        if let Some(rows) = rows {
            rows.push(node.start_position().row);
        }
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        tokens(child, source, out, rows.as_deref_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(defs: &[Definition]) -> Vec<(Kind, &str, usize)> {
        defs.iter()
            .map(|d| (d.kind, d.name.as_str(), d.line))
            .collect()
    }

    #[test]
    fn module_functions_classes_and_statements() {
        let source = "import os\n\n@dec\n@other(1)\ndef f(x=1):\n    return x\n\nclass C(Base):\n    \"\"\"Doc.\"\"\"\n    color = 'red'\n\n    def m(self):\n        return super().m()\n\nasync def g():\n    pass\n";
        let tree = parse(source).unwrap();
        assert_eq!(
            names(&tree.definitions),
            [
                (Kind::Statement, "", 1),
                (Kind::Function, "f", 3),
                (Kind::Class, "C", 8),
                (Kind::Function, "g", 15),
            ]
        );
        let f = &tree.definitions[1];
        assert_eq!(f.end_line, 6);
        assert_eq!(f.header_tokens, ["@", "dec", "@", "other", "(", "1", ")"]);
        assert_eq!(f.parameter_tokens, ["(", "x", "=", "1", ")"]);
        let class = &tree.definitions[2];
        assert_eq!(class.header_lines, (8, 8));
        assert_eq!(
            names(&class.children),
            [
                (Kind::Statement, "", 9),
                (Kind::Statement, "", 10),
                (Kind::Function, "m", 12)
            ]
        );
        assert_eq!(class.children[1].text, "    color = 'red'");
    }

    #[test]
    fn comments_and_blank_lines_are_not_tokens_but_rows_are_kept() {
        let a = parse("def f():\n    x = 1  # one\n    return x\n").unwrap();
        let b = parse("def f():\n    # a comment\n    x = 1\n\n    return x\n").unwrap();
        let (fa, fb) = (&a.definitions[0], &b.definitions[0]);
        assert_eq!(fa.body_tokens, fb.body_tokens);
        assert_ne!(fa.body_rows, fb.body_rows);
    }

    #[test]
    fn multi_line_class_header() {
        let tree = parse("@dataclass\nclass C(\n    Base,\n):\n    x: int = 0\n").unwrap();
        let class = &tree.definitions[0];
        assert_eq!((class.line, class.header_lines), (1, (2, 4)));
        assert!(!class.inline_body);
        let inline = parse("class D: pass\n").unwrap();
        assert!(inline.definitions[0].inline_body);
    }

    #[test]
    fn syntax_errors_are_located() {
        let error = parse("x = 1\ndef f(:\n    pass\n").unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn strings_are_single_tokens() {
        let tree = parse("s = f\"a {b!r} \\n c\"\n").unwrap();
        assert_eq!(
            tree.definitions[0].body_tokens,
            ["s", "=", "f\"a {b!r} \\n c\""]
        );
    }

    /// Every construct Python 3.9 to 3.13 compiles (tests/syntax) parses, so every file
    /// Python runs can be patched; crates/cli/tests/syntax.rs patches each one live.
    #[test]
    fn every_construct_python_compiles_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syntax");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let tree = parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert!(tree.definitions.len() > 3, "{}", path.display());
            files += 1;
        }
        assert_eq!(files, 5);
    }
}
