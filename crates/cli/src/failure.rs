//! Failures the user must see as one `jurigged: …` line, and the exit status each gives.
//!
//! Exceptions the program raises are not failures of ours: they are printed the way
//! `python` prints them (`interp::exit`). Everything jurigged itself refuses or cannot do
//! ends up here, so the wording and the statuses live in one place.

use std::fmt::Display;
use std::io::Write;

use crate::interp::{Exit, InitError};

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The embedded interpreter did not start.
    #[error(transparent)]
    Start(#[from] InitError),
    /// Live patching could not start (a bad `--watch`, no inotify, …).
    #[error("{0}")]
    Watch(String),
    /// The script cannot be read; `python` says the same and exits with 2.
    #[error("can't open file {}: {}", py_repr(.path), errno_text(.error))]
    CantOpen { path: String, error: std::io::Error },
    #[error("can't read standard input: {0}")]
    Stdin(std::io::Error),
    /// The program to run was not found: python's own message (`No module named x`).
    #[error("{0}")]
    NotFound(String),
    #[error("module '{module}' has no function '{function}'")]
    NoFunction { module: String, function: String },
    /// A `--loop` / `--xloop` name that names nothing.
    #[error("{0}")]
    Loop(String),
}

impl Failure {
    pub fn status(&self) -> i32 {
        match self {
            Failure::Start(error) => error.status(),
            Failure::Watch(_) | Failure::CantOpen { .. } => 2,
            Failure::Stdin(_)
            | Failure::NotFound(_)
            | Failure::NoFunction { .. }
            | Failure::Loop(_) => 1,
        }
    }

    /// Prints the one line and gives the status the process should end with.
    pub fn report(&self) -> Exit {
        if let Failure::Start(InitError::Exit(_)) = self {
            // CPython asked to exit with this status and has said why already.
        } else {
            warn(self);
        }
        Exit::code(self.status())
    }
}

/// Writes `jurigged: ` and `what` as one line to stderr.
pub fn warn(what: impl Display) {
    say(format_args!("jurigged: {what}"));
}

/// Writes one line to stderr. A closed or full stderr is no reason to fail on top of
/// what is being reported, so a write error is dropped.
pub fn say(line: impl Display) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `[Errno 2] No such file or directory`, as Python formats an OSError.
fn errno_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("[Errno {code}] {text}")
        }
        None => err.to_string(),
    }
}

/// Python's repr of a str, enough for paths in messages.
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_look_like_python() {
        assert_eq!(py_repr("/tmp/a b.py"), "'/tmp/a b.py'");
        assert_eq!(py_repr("it's.py"), "\"it's.py\"");
        let err = std::io::Error::from_raw_os_error(2);
        assert_eq!(errno_text(&err), "[Errno 2] No such file or directory");
        let cant_open = Failure::CantOpen {
            path: "/x/a.py".into(),
            error: err,
        };
        assert_eq!(
            cant_open.to_string(),
            "can't open file '/x/a.py': [Errno 2] No such file or directory"
        );
        assert_eq!(cant_open.status(), 2);
    }
}
