//! What live patching tells its user, on stderr, in jurigged 0.6's words: `Watch`,
//! `Update`, `Add`, `Run`, `Delete` with `-v`; errors always. Coloured on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Turned on by the program calling `jurigged.watch()` with jurigged's default logger: the
/// operation lines are printed as with `-v`.
static WATCH_LINES: AtomicBool = AtomicBool::new(false);

/// Prints operation lines from now on, as `-v` does; false if they were printed already.
pub fn print_operations() -> bool {
    !WATCH_LINES.swap(true, Ordering::SeqCst)
}

/// Bold, bold yellow, bold green, bold red.
#[derive(Debug, Clone, Copy)]
enum Style {
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

/// Where and how operations are reported.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub verbose: bool,
    pub color: bool,
}

impl Logger {
    pub fn new(verbose: bool) -> Logger {
        Logger {
            verbose,
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn verbose(&self) -> bool {
        self.verbose || WATCH_LINES.load(Ordering::Relaxed)
    }

    fn line(&self, style: Style, text: &str) {
        // A full-screen interface owns the terminal: lines go to its status line instead
        // of scribbling over it.
        if crate::develoop::tui::is_active() {
            crate::develoop::tui::report_patch(text, matches!(style, Style::Red));
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = if self.color {
            writeln!(stderr, "{}{text}\x1b[0m", style.escape())
        } else {
            writeln!(stderr, "{text}")
        };
    }

    /// `Watch /abs/app.py`
    pub fn watch(&self, path: &str) {
        if self.verbose() {
            self.line(Style::Bold, &format!("Watch {path}"));
        }
    }

    /// `Update app.f @L3`
    pub fn update(&self, dotted: &str, line: usize) {
        if self.verbose() {
            self.line(Style::Yellow, &format!("Update {dotted} @L{line}"));
        }
    }

    /// `Add app.g @L10`
    pub fn add(&self, dotted: &str, line: usize) {
        if self.verbose() {
            self.line(Style::Green, &format!("Add {dotted} @L{line}"));
        }
    }

    /// `Run app @L4: x = 2`
    pub fn run(&self, dotted: &str, line: usize, text: &str) {
        if self.verbose() {
            self.line(Style::Green, &format!("Run {dotted} @L{line}: {text}"));
        }
    }

    /// `Delete app.f @L3`
    pub fn delete(&self, dotted: &str, line: usize) {
        if self.verbose() {
            self.line(Style::Red, &format!("Delete {dotted} @L{line}"));
        }
    }

    /// Errors and warnings are printed with or without `-v`.
    pub fn error(&self, text: &str) {
        let text = text.trim_end_matches('\n');
        self.line(Style::Red, text);
    }
}
