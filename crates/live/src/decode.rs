//! Source text as python reads it: its encoding and its line ends.

use jurigged_source as source;
use pyo3::prelude::*;

/// A source file's text, decoded as python decodes it (a coding cookie, a BOM, else
/// UTF-8); `None` when it cannot be.
pub fn decode_source(bytes: &[u8]) -> Option<String> {
    decode_text(bytes).map(universal_newlines)
}

/// Line ends as python reads them (`\r\n` and `\r` are `\n`): a file whose line ends an
/// editor or git converted has not changed, and a lone `\r` ends a line for the parser too.
fn universal_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn decode_text(bytes: &[u8]) -> Option<String> {
    match source::decode(bytes) {
        source::Decoded::Text(text) => Some(text),
        source::Decoded::Invalid => None,
        // Rare (cp1252, shift_jis...): python's codec, the one that decoded the import.
        source::Decoded::NeedsCodec(codec) => Python::attach(|py| {
            let text = pyo3::types::PyBytes::new(py, bytes)
                .call_method1("decode", (codec,))
                .and_then(|text| text.extract::<String>());
            text.ok()
        }),
    }
}
