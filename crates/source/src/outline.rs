//! Where a module's top-level statements start, found by a quick scan of its tokens
//! (strings, f-string fields, brackets, line continuations, comments) without parsing. It
//! tells which whole statements a save touched in a 10 MB module in a few milliseconds, so
//! that only those are parsed. Any doubt (an unterminated string, unbalanced brackets) is
//! `None`, and the caller parses the whole module instead.

/// One top-level statement of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Byte offset of its first line's start (its first decorator, if decorated).
    pub start: usize,
    /// Its first line, 1-based.
    pub line: usize,
    /// The name a `def` or `class` binds (decorated or not), as a byte range of the source.
    pub name: Option<(usize, usize)>,
}

/// The module's top-level statements in order, or `None` if the scan is not sure of them.
pub fn statements(source: &[u8]) -> Option<Vec<Statement>> {
    // A lone carriage return ends a line for Python but not for this scan's line count.
    let lone_return = source
        .iter()
        .enumerate()
        .any(|(at, &b)| b == b'\r' && source.get(at + 1) != Some(&b'\n'));
    if lone_return {
        return None;
    }
    let mut scanner = Scanner { source, line: 1 };
    let mut found: Vec<Statement> = Vec::new();
    // A statement that began with `@` and has not reached its `def` or `class` yet.
    let mut decorating = false;
    let mut at = if source.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    while at < source.len() {
        let code = scanner.skip_blanks(at);
        match source.get(code) {
            None => break,
            Some(b'\n' | b'#' | b'\r') => {
                at = scanner.end_of_line(code);
                continue;
            }
            Some(_) => {}
        }
        if code == at {
            let word = identifier(source, code);
            if decorating {
                if let Some(name) = defined_name(source, code) {
                    if let Some(last) = found.last_mut() {
                        last.name = Some(name);
                    }
                    decorating = false;
                }
            } else if !matches!(word, b"else" | b"elif" | b"except" | b"finally") {
                decorating = source[code] == b'@';
                found.push(Statement {
                    start: at,
                    line: scanner.line,
                    name: defined_name(source, code),
                });
            }
        } else if found.is_empty() || decorating {
            // An indented first statement, or an indented line inside a decorator list.
            return None;
        }
        at = scanner.logical_line(code)?;
    }
    Some(found)
}

struct Scanner<'s> {
    source: &'s [u8],
    /// The line of the current position, 1-based.
    line: usize,
}

impl Scanner<'_> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.source.get(at).copied()
    }

    fn skip_blanks(&self, mut at: usize) -> usize {
        while matches!(self.byte(at), Some(b' ' | b'\t' | b'\x0c')) {
            at += 1;
        }
        at
    }

    /// Just past the end of the physical line holding `at`.
    fn end_of_line(&mut self, at: usize) -> usize {
        match self.source[at..].iter().position(|&b| b == b'\n') {
            Some(offset) => {
                self.line += 1;
                at + offset + 1
            }
            None => self.source.len(),
        }
    }

    /// Scans one logical line (brackets and backslashes join physical lines) from `at`;
    /// returns the start of the next line.
    fn logical_line(&mut self, mut at: usize) -> Option<usize> {
        let mut depth = 0usize;
        while let Some(byte) = self.byte(at) {
            match byte {
                b'#' => {
                    at += self.source[at..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .unwrap_or(self.source.len() - at);
                }
                b'\n' => {
                    self.line += 1;
                    at += 1;
                    if depth == 0 {
                        return Some(at);
                    }
                }
                b'\\' => at = self.escape(at),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    at += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    at += 1;
                }
                b'\'' | b'"' => at = self.string(at)?,
                _ => at += 1,
            }
        }
        (depth == 0).then_some(at)
    }

    /// Past a backslash and the character it escapes (a newline, for a continuation).
    fn escape(&mut self, at: usize) -> usize {
        match self.byte(at + 1) {
            Some(b'\n') => {
                self.line += 1;
                at + 2
            }
            Some(b'\r') if self.byte(at + 2) == Some(b'\n') => {
                self.line += 1;
                at + 3
            }
            Some(_) => at + 2,
            None => at + 1,
        }
    }

    /// Past the string literal whose opening quote is at `at`.
    fn string(&mut self, at: usize) -> Option<usize> {
        let formatted = string_prefix(self.source, at).is_some_and(|prefix| {
            prefix
                .iter()
                .any(|b| matches!(b.to_ascii_lowercase(), b'f' | b't'))
        });
        let quote = self.source[at];
        let triple = self.source[at..].starts_with(&[quote, quote, quote]);
        let mut at = at + if triple { 3 } else { 1 };
        loop {
            match self.byte(at)? {
                b'\\' => at = self.escape(at),
                b'\n' if !triple => return None,
                b'\n' => {
                    self.line += 1;
                    at += 1;
                }
                byte if byte == quote => {
                    if !triple {
                        return Some(at + 1);
                    }
                    if self.source[at..].starts_with(&[quote, quote, quote]) {
                        return Some(at + 3);
                    }
                    at += 1;
                }
                b'{' if formatted => {
                    if self.byte(at + 1) == Some(b'{') {
                        at += 2;
                    } else {
                        at = self.field(at + 1)?;
                    }
                }
                _ => at += 1,
            }
        }
    }

    /// Past the `}` closing an f-string replacement field whose expression starts at `at`.
    fn field(&mut self, mut at: usize) -> Option<usize> {
        let mut depth = 0usize;
        loop {
            match self.byte(at)? {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    at += 1;
                }
                b'}' if depth == 0 => return Some(at + 1),
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    at += 1;
                }
                // Nested strings may reuse the outer quote (Python 3.12).
                b'\'' | b'"' => at = self.string(at)?,
                b':' if depth == 0 => return self.format_spec(at + 1),
                b'\\' => at = self.escape(at),
                b'\n' => {
                    self.line += 1;
                    at += 1;
                }
                _ => at += 1,
            }
        }
    }

    /// Past the `}` ending a format spec (`{x:>{width}}`): literal text and nested fields.
    fn format_spec(&mut self, mut at: usize) -> Option<usize> {
        loop {
            match self.byte(at)? {
                b'{' => at = self.field(at + 1)?,
                b'}' => return Some(at + 1),
                b'\n' => {
                    self.line += 1;
                    at += 1;
                }
                _ => at += 1,
            }
        }
    }
}

/// The letters just before the quote at `at`, if they are a string prefix (`rb`, `f`...).
fn string_prefix(source: &[u8], at: usize) -> Option<&[u8]> {
    let start = source[..at]
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric() && *b != b'_' && *b < 0x80)
        .map_or(0, |p| p + 1);
    let letters = &source[start..at];
    let valid = letters.len() <= 2
        && letters
            .iter()
            .all(|b| matches!(b.to_ascii_lowercase(), b'r' | b'b' | b'u' | b'f' | b't'));
    (valid && !letters.is_empty()).then_some(letters)
}

/// The identifier (or keyword) starting at `at`.
fn identifier(source: &[u8], at: usize) -> &[u8] {
    let end = source[at..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80))
        .map_or(source.len(), |p| at + p);
    &source[at..end]
}

/// For a line starting `def`, `async def` or `class` at `at`: the name it binds.
fn defined_name(source: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut word = identifier(source, at);
    let mut at = at;
    if word == b"async" {
        at = after_blanks(source, at + word.len())?;
        word = identifier(source, at);
    }
    if word != b"def" && word != b"class" {
        return None;
    }
    let start = after_blanks(source, at + word.len())?;
    let name = identifier(source, start);
    (!name.is_empty()).then_some((start, start + name.len()))
}

/// The first non-blank position after at least one blank at `at`.
fn after_blanks(source: &[u8], at: usize) -> Option<usize> {
    let blanks = source[at..]
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(source.len() - at);
    (blanks > 0).then_some(at + blanks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(source: &str) -> Vec<(usize, Option<&str>)> {
        statements(source.as_bytes())
            .expect("the scan is sure")
            .iter()
            .map(|s| (s.line, s.name.map(|(a, b)| &source[a..b])))
            .collect()
    }

    #[test]
    fn statements_definitions_and_their_names() {
        let source = "import os\n\n# note\n@dec(\n    1)\n\n@other\nasync  def f(x):\n    return x\n\nclass C(Base):\n    def m(self):\n        pass\n# end\nx = 1\n";
        assert_eq!(
            lines(source),
            [(1, None), (4, Some("f")), (11, Some("C")), (15, None)]
        );
    }

    #[test]
    fn compound_statements_keep_their_clauses() {
        let source = "if a:\n    pass\nelif b:\n    pass\nelse:\n    pass\ntry:\n    pass\nexcept E:\n    pass\nfinally:\n    pass\nelsewhere = 1\n";
        assert_eq!(lines(source), [(1, None), (7, None), (13, None)]);
    }

    #[test]
    fn strings_brackets_and_continuations_hide_line_starts() {
        let source = concat!(
            "s = \"\"\"\ndef fake():\n    pass\n\"\"\"\n",
            "t = (1,\n2)\n",
            "u = 1 + \\\n2\n",
            "v = f\"{x:>{w}} {'}'} {d[\"k\"]}\" + rb'\\'' + '#'\n",
            "w = f'''{\n1}'''\n",
            "def g(): pass\n",
        );
        assert_eq!(
            lines(source),
            [
                (1, None),
                (5, None),
                (7, None),
                (9, None),
                (10, None),
                (12, Some("g"))
            ]
        );
    }

    #[test]
    fn doubt_is_none() {
        assert_eq!(statements(b"s = 'open\n"), None);
        assert_eq!(statements(b"x = (1,\n"), None);
        assert_eq!(statements(b"x = 1)\n"), None);
        assert_eq!(statements(b"    x = 1\n"), None);
        assert_eq!(statements(b"s = \"\"\"never closed\n"), None);
    }
}

/// The outline agrees with the parser on every file of the standard library that parses.
#[cfg(test)]
mod standard_library {
    use super::*;
    use crate::parse;
    use std::path::PathBuf;

    fn standard_library() -> PathBuf {
        let output = std::process::Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
            ])
            .output()
            .expect("python3 runs");
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    }

    #[test]
    fn statement_lines_match_the_parser() {
        let (mut checked, mut unsure, mut wrong) = (0, 0, Vec::new());
        let mut stack = vec![standard_library()];
        while let Some(directory) = stack.pop() {
            for entry in std::fs::read_dir(&directory).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() && !path.ends_with("site-packages") {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "py") {
                    continue;
                }
                let Ok(source) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Ok(tree) = parse(&source) else { continue };
                // `a; b` is two statements, the second starting mid-line: the outline has
                // line starts only.
                let mut expected = Vec::new();
                let mut previous_end = 0;
                for definition in &tree.definitions {
                    if definition.line > previous_end {
                        expected.push(definition.line);
                    }
                    previous_end = definition.end_line;
                }
                let Some(found) = statements(source.as_bytes()) else {
                    // Unsure is allowed (the caller parses whole), but should be rare.
                    eprintln!("unsure: {}", path.display());
                    unsure += 1;
                    continue;
                };
                let lines: Vec<usize> = found.iter().map(|s| s.line).collect();
                if lines != expected {
                    wrong.push(path.display().to_string());
                }
                checked += 1;
            }
        }
        assert_eq!(wrong, Vec::<String>::new());
        assert!(checked > 500, "only {checked} files checked");
        assert!(
            unsure * 50 < checked,
            "unsure of {unsure} of {checked} files"
        );
    }
}
