//! What live patching tells its user, in jurigged 0.6's words: `Watch`, `Update`, `Add`,
//! `Run`, `Delete` with `-v`; errors always. The engine emits events (`Logger`); the log
//! on stderr is one subscriber, coloured on a terminal, and a full-screen interface may
//! show the same lines itself (`describe`).

use std::io::{IsTerminal, Write};

use crate::hooks::{self, Flow, HookId, PatchEvent};
use crate::session::operations_shown;

/// Bold, bold yellow, bold green, bold red.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Yellow,
    Green,
    Red,
}

impl Style {
    fn escape(self) -> &'static str {
        match self {
            Style::Bold => "\x1b[1m",
            Style::Yellow => "\x1b[1;33m",
            Style::Green => "\x1b[1;32m",
            Style::Red => "\x1b[1;31m",
        }
    }
}

/// The log line for an event, if the log shows it now.
pub fn describe(event: &PatchEvent<'_>) -> Option<(Style, String)> {
    let operation = |style, text: String| operations_shown().then_some((style, text));
    match *event {
        PatchEvent::Watch { filename } => operation(Style::Bold, format!("Watch {filename}")),
        PatchEvent::Update { name, line } => {
            operation(Style::Yellow, format!("Update {name} @L{line}"))
        }
        PatchEvent::Add { name, line } => operation(Style::Green, format!("Add {name} @L{line}")),
        PatchEvent::Run { name, line, text } => {
            operation(Style::Green, format!("Run {name} @L{line}: {text}"))
        }
        PatchEvent::Delete { name, line } => {
            operation(Style::Red, format!("Delete {name} @L{line}"))
        }
        PatchEvent::Problem { text } => Some((Style::Red, text.trim_end_matches('\n').into())),
        PatchEvent::Applied { .. } | PatchEvent::NotApplied { .. } => None,
    }
}

/// Prints the log on stderr from now on. Operation lines show when the session says so
/// (`Settings::verbose`, `jurigged.watch()`).
pub fn print_to_stderr() -> HookId {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    hooks::subscribe(move |_py, event| {
        if let Some((style, text)) = describe(event) {
            let mut stderr = std::io::stderr().lock();
            // Nowhere to report a failing stderr.
            let _ = if color {
                writeln!(stderr, "{}{text}\x1b[0m", style.escape())
            } else {
                writeln!(stderr, "{text}")
            };
        }
        Flow::Continue
    })
}

/// How the engine reports what it does: as events, to whoever subscribed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logger;

impl Logger {
    /// `Watch /abs/app.py`
    pub fn watch(&self, filename: &str) {
        hooks::emit_attached(&PatchEvent::Watch { filename });
    }

    /// `Update app.f @L3`
    pub fn update(&self, name: &str, line: usize) {
        hooks::emit_attached(&PatchEvent::Update { name, line });
    }

    /// `Add app.g @L10`
    pub fn add(&self, name: &str, line: usize) {
        hooks::emit_attached(&PatchEvent::Add { name, line });
    }

    /// `Run app @L4: x = 2`
    pub fn run(&self, name: &str, line: usize, text: &str) {
        hooks::emit_attached(&PatchEvent::Run { name, line, text });
    }

    /// `Delete app.f @L3`
    pub fn delete(&self, name: &str, line: usize) {
        hooks::emit_attached(&PatchEvent::Delete { name, line });
    }

    /// Errors and warnings, shown with or without `-v`.
    pub fn error(&self, text: &str) {
        hooks::emit_attached(&PatchEvent::Problem { text });
    }
}
