//! PEP 696 (Python 3.13) lets type parameters have defaults: `def f[T = int]()`,
//! `class C[*Ts = *tuple[int]]`, `type A[T = str] = ...`. tree-sitter-python 0.25 does not
//! parse them (upstream issue #346), so a module using them would never be patchable.
//!
//! `stand_in` rewrites such defaults into syntax the grammar knows, byte for byte the same
//! length: `T = int` becomes the bound `T : int` and a starred default `*tuple[int]` the
//! unary `-tuple[int]`. Every node keeps its position, and tokens are read from the real
//! source, so a changed default is still seen as a change.

/// The source with type parameter defaults rewritten, or `None` when it has none.
pub fn stand_in(source: &str) -> Option<String> {
    let mut bytes = source.as_bytes().to_vec();
    let mut changed = false;
    let mut at = 0;
    while let Some(open) = next_parameter_list(&bytes, at) {
        at = open + 1;
        changed |= rewrite_defaults(&mut bytes, open);
    }
    // Only ASCII `=` and `*` were replaced by ASCII, so the text is still UTF-8.
    changed.then(|| String::from_utf8(bytes).ok()).flatten()
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// The position of the `[` after `def NAME`, `class NAME` or `type NAME`, from `from` on.
/// Matches inside strings or comments are harmless: only `=` and `*` are ever replaced,
/// and tokens keep their real text.
fn next_parameter_list(bytes: &[u8], from: usize) -> Option<usize> {
    let mut index = from;
    while index < bytes.len() {
        let keyword = [&b"def"[..], b"class", b"type"]
            .into_iter()
            .find(|keyword| bytes[index..].starts_with(keyword));
        let starts_word = index == 0 || !is_name_byte(bytes[index - 1]);
        if let (Some(keyword), true) = (keyword, starts_word) {
            let mut cursor = index + keyword.len();
            let spaces = skip_spaces(bytes, cursor);
            let name_end = (spaces..bytes.len())
                .find(|&i| !is_name_byte(bytes[i]))
                .unwrap_or(bytes.len());
            if spaces > cursor && name_end > spaces {
                cursor = skip_spaces(bytes, name_end);
                if bytes.get(cursor) == Some(&b'[') {
                    return Some(cursor);
                }
            }
        }
        index += 1;
    }
    None
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\x0c') {
        at += 1;
    }
    at
}

/// Rewrites the defaults in the bracketed list opening at `open`; false when there are
/// none or the list never closes.
fn rewrite_defaults(bytes: &mut [u8], open: usize) -> bool {
    // Type parameter lists are short; a bracket never closed is not one.
    const LONGEST: usize = 10_000;
    let mut depth = 0usize;
    let mut defaults = Vec::new();
    let end = bytes.len().min(open + LONGEST);
    for index in open..end {
        match bytes[index] {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    for &equals in &defaults {
                        bytes[equals] = b':';
                        let value = skip_spaces(bytes, equals + 1);
                        if bytes.get(value) == Some(&b'*') && bytes.get(value + 1) != Some(&b'*') {
                            bytes[value] = b'-';
                        }
                    }
                    return !defaults.is_empty();
                }
            }
            b'=' if depth == 1 => {
                let before = bytes[index - 1];
                let after = bytes.get(index + 1).copied().unwrap_or(b' ');
                if !matches!(before, b'=' | b'<' | b'>' | b'!' | b':') && after != b'=' {
                    defaults.push(index);
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::stand_in;

    #[test]
    fn defaults_become_bounds_of_the_same_length() {
        let source = "def f[T = int, *Ts = *tuple[int, ...], **P = [int]](x=1): pass\n";
        let rewritten = stand_in(source).unwrap();
        assert_eq!(
            rewritten,
            "def f[T : int, *Ts : -tuple[int, ...], **P : [int]](x=1): pass\n"
        );
        assert_eq!(
            stand_in("class C[T: int = str]: pass\ntype A[U = T] = list[U]\n").unwrap(),
            "class C[T: int : str]: pass\ntype A[U : T] = list[U]\n"
        );
    }

    #[test]
    fn other_code_is_left_alone() {
        assert_eq!(stand_in("x[a == b] = 1\ndef f(a=1): pass\n"), None);
        assert_eq!(stand_in("undefined[T = 1]\nclass C[T]: pass\n"), None);
        assert_eq!(stand_in("def f[T = int\n"), None);
    }
}
