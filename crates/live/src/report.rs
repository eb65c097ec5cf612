//! Reporting a save that was not applied: a syntax error in python's words, and the one
//! line a status bar shows.

use std::path::Path;

use pyo3::prelude::*;

use crate::hooks;
use crate::session::{Session, lock};

/// Reports a save that does not parse, in python's words (file, line, caret).
pub(crate) fn report_syntax_error(session: &Session, filename: &str, source: &str, line: usize) {
    let hash = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        source.hash(&mut hasher);
        hasher.finish()
    };
    if lock(&session.reported_syntax_errors).insert(filename.to_string(), hash) == Some(hash) {
        return;
    }
    let message = Python::try_attach(|py| {
        let compiled = py
            .import("builtins")
            .and_then(|b| b.getattr("compile")?.call1((source, filename, "exec")));
        match compiled {
            Ok(_) => None,
            Err(err) => {
                let text = py
                    .import("traceback")
                    .and_then(|t| {
                        t.call_method1("format_exception_only", (err.get_type(py), err.value(py)))
                    })
                    .and_then(|lines| {
                        let mut text = String::new();
                        for line in lines.try_iter()? {
                            text.push_str(&line?.extract::<String>()?);
                        }
                        Ok(text)
                    });
                Some(text.unwrap_or_else(|_| err.to_string()))
            }
        }
    })
    .flatten();
    let report = match message {
        Some(text) => format!(
            "jurigged: syntax error in {filename}; the previous version keeps running.\n{text}"
        ),
        None => format!(
            "jurigged: cannot analyse {filename} line {line} (jurigged's parser does not understand it); the change was not applied"
        ),
    };
    hooks::emit_attached(&hooks::PatchEvent::NotApplied {
        summary: &error_summary(&report),
    });
    session.log.error(&report);
}

/// One line for a status bar: `app.py:12: SyntaxError: invalid syntax`.
pub(crate) fn error_summary(report: &str) -> String {
    let message = report
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim();
    let location = report.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("File \"")?;
        let (file, rest) = rest.split_once('"')?;
        let number: String = rest
            .trim_start_matches(", line ")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
        Some(format!("{name}:{number}: "))
    });
    format!("{}{message}", location.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::error_summary;

    #[test]
    fn a_summary_names_the_file_line_and_error() {
        let report = "jurigged: syntax error in /p/app.py; the previous version keeps running.\n  File \"/p/app.py\", line 12\n    def f(:\n          ^\nSyntaxError: invalid syntax\n";
        assert_eq!(
            error_summary(report),
            "app.py:12: SyntaxError: invalid syntax"
        );
        assert_eq!(
            error_summary("jurigged: cannot analyse x\n"),
            "jurigged: cannot analyse x"
        );
    }
}
