//! A module's bytes to text, as python reads a source file (PEP 263): a UTF-8 BOM, or a
//! coding cookie (`# -*- coding: latin-1 -*-`) on line 1, or on line 2 below a comment or
//! blank line; UTF-8 otherwise. UTF-8, Latin-1 and ASCII are decoded here; any other
//! codec is named for the caller to decode with python's codecs.

/// How to turn a file's bytes into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Text(String),
    /// The file declares this codec (as written in its cookie), which only python knows.
    NeedsCodec(String),
    /// Not valid in the encoding it declares (UTF-8 when it declares none).
    Invalid,
}

/// Decodes source bytes the way python's tokenizer does.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (bytes, bom) = match bytes.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let Some(cookie) = coding_cookie(bytes) else {
        return utf8(bytes);
    };
    let normal = cookie.to_ascii_lowercase().replace('_', "-");
    if matches!(normal.as_str(), "utf-8" | "utf8") || normal.starts_with("utf-8-") {
        return utf8(bytes);
    }
    if bom {
        // python: "encoding problem: latin-1 with BOM".
        return Decoded::Invalid;
    }
    let latin1 = [
        "latin-1",
        "latin1",
        "iso-8859-1",
        "iso8859-1",
        "iso-latin-1",
        "l1",
        "latin",
        "8859",
        "cp819",
    ];
    if latin1.contains(&normal.as_str())
        || ["latin-1-", "iso-8859-1-", "iso-latin-1-"]
            .iter()
            .any(|prefix| normal.starts_with(prefix))
    {
        return Decoded::Text(bytes.iter().map(|&b| char::from(b)).collect());
    }
    if matches!(normal.as_str(), "ascii" | "us-ascii" | "646") {
        return match bytes.is_ascii() {
            true => utf8(bytes),
            false => Decoded::Invalid,
        };
    }
    Decoded::NeedsCodec(cookie)
}

fn utf8(bytes: &[u8]) -> Decoded {
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded::Text(text.to_string()),
        Err(_) => Decoded::Invalid,
    }
}

/// The encoding a coding cookie names: `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)` on the
/// first line, or on the second when the first is blank or a comment.
fn coding_cookie(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next()?;
    if let Some(found) = cookie_in(first) {
        return Some(found);
    }
    let first = trim_start(first);
    let first_is_comment_or_blank = first.is_empty() || first[0] == b'#' || first == b"\r";
    if !first_is_comment_or_blank {
        return None;
    }
    cookie_in(lines.next()?)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))
        .unwrap_or(line.len());
    &line[start..]
}

fn cookie_in(line: &[u8]) -> Option<String> {
    let line = trim_start(line);
    if line.first() != Some(&b'#') {
        return None;
    }
    let mut at = 0;
    while let Some(found) = line[at..].windows(6).position(|w| w == b"coding") {
        let after = at + found + 6;
        if matches!(line.get(after), Some(b':' | b'=')) {
            let rest = trim_start(&line[after + 1..]);
            let name: Vec<u8> = rest
                .iter()
                .copied()
                .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                .collect();
            if !name.is_empty() {
                return String::from_utf8(name).ok();
            }
        }
        at = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_on_the_first_two_lines() {
        assert_eq!(
            decode(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n"),
            Decoded::Text("# -*- coding: latin-1 -*-\nx = 'é'\n".into())
        );
        assert_eq!(
            decode(b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n"),
            Decoded::NeedsCodec("cp1252".into())
        );
        // Below code, a cookie is just a comment.
        assert_eq!(decode(b"x = 1\n# coding: latin-1\n\xe9"), Decoded::Invalid);
        assert_eq!(
            decode(b"# coding=utf-8\nx = '\xc3\xa9'\n"),
            Decoded::Text("# coding=utf-8\nx = 'é'\n".into())
        );
    }

    #[test]
    fn bom_and_plain_utf8() {
        assert_eq!(
            decode(b"\xef\xbb\xbfx = 1\n"),
            Decoded::Text("x = 1\n".into())
        );
        assert_eq!(decode(b"x = '\xff'\n"), Decoded::Invalid);
        assert_eq!(
            decode(b"# coding: ascii\nx = '\xc3\xa9'\n"),
            Decoded::Invalid
        );
    }
}
