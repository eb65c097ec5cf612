//! The basic develoop interface: plain lines on the real terminal, jurigged's layout.
//!
//! ```text
//! ---- #1: compute(0) ------------------------------
//! (the function's output and given values, as they happen)
//! ---- #1: RESULT ----------------------------------
//! 42
//! ---- #1: (c)ontinue | (r)erun | (q)uit -----------
//! ```
//!
//! Output is not hidden: stdin belongs to the function while it runs, so `input()` and
//! `breakpoint()` work. Keys are read without Enter from the terminal (the controlling
//! terminal when stdin is redirected); with no terminal at all, one command per line is
//! read from stdin.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::Python;

use super::format::{duration, rule};
use super::runner::{Command, Interface, Run, Status, discard_pending_signals};
use super::unix::{Cbreak, poll_readable};

/// Where keys come from.
enum Keys {
    /// A terminal (stdin, else /dev/tty), read unbuffered in cbreak mode.
    Terminal(File),
    /// No terminal: lines from stdin, read unbuffered (what follows is the program's).
    Lines(Option<File>),
}

pub struct Basic {
    keys: Keys,
    /// The run whose error `d` opens the debugger on.
    failed_run: Option<usize>,
    /// The last prompt line, shown again when the debugger is left.
    prompt: String,
}

/// Stdin as a file of its own (a duplicate): read a byte at a time, without Rust's buffer.
fn stdin_file() -> Option<File> {
    let stdin = std::io::stdin();
    stdin.as_fd().try_clone_to_owned().ok().map(File::from)
}

impl Basic {
    pub fn new() -> Basic {
        let keys = if std::io::stdin().is_terminal() {
            stdin_file().map_or(Keys::Lines(None), Keys::Terminal)
        } else {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/tty")
            {
                Ok(tty) => Keys::Terminal(tty),
                Err(_) => Keys::Lines(stdin_file()),
            }
        };
        Basic {
            keys,
            failed_run: None,
            prompt: String::new(),
        }
    }

    fn say(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // Where stdout is gone the loop goes on: keys still work.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

impl Interface for Basic {
    fn live_output(&self) -> bool {
        true
    }

    fn started(&mut self, run: &Run) {
        self.say(&format!("{}\n", rule(run.number, &run.signature)));
    }

    fn finished(&mut self, run: &Run) {
        let body = match run.status {
            Status::Done => {
                // How an `async def` or a generator's result was had: `RESULT (awaited)`.
                let label = match &run.result_kind {
                    Some(kind) => format!("RESULT ({kind})"),
                    None => "RESULT".into(),
                };
                format!(
                    "{}\n{}\n",
                    rule(run.number, &label),
                    run.result.as_deref().unwrap_or("")
                )
            }
            Status::Error => {
                self.say(&format!("{}\n", rule(run.number, "ERROR")));
                let mut err = std::io::stderr().lock();
                // Where stderr is gone the loop goes on, as with stdout.
                let _ = err.write_all(run.error.as_deref().unwrap_or("").as_bytes());
                let _ = err.flush();
                String::new()
            }
            Status::Aborted => format!(
                "{}\n",
                rule(
                    run.number,
                    &format!("ABORTED after {}", duration(run.seconds))
                )
            ),
            Status::Running => String::new(),
        };
        self.say(&body);
        self.failed_run = (run.status == Status::Error).then_some(run.number);
        let keys = if self.failed_run.is_some() {
            "(c)ontinue | (r)erun | (q)uit | (d)ebug"
        } else {
            "(c)ontinue | (r)erun | (q)uit"
        };
        self.prompt = format!("{}\n", rule(run.number, keys));
        self.say(&self.prompt);
    }

    fn resume(&mut self) {
        self.say(&self.prompt);
    }

    fn wait(&mut self, py: Python<'_>, wake: BorrowedFd<'_>) -> Command {
        // Said once per process, however many loops follow.
        static ANNOUNCED: AtomicBool = AtomicBool::new(false);
        if matches!(self.keys, Keys::Lines(_)) && !ANNOUNCED.swap(true, Ordering::Relaxed) {
            let mut err = std::io::stderr().lock();
            // A hint only: without stderr the commands work all the same.
            let _ = writeln!(
                err,
                "jurigged: no terminal for keys: reading commands (c, r, q) one per line from standard input; end of input continues"
            );
        }
        let failed_run = self.failed_run;
        let keys = &self.keys;
        let command = py.detach(|| match keys {
            Keys::Terminal(tty) => read_key(tty, wake, failed_run),
            Keys::Lines(Some(stdin)) => read_line(stdin, wake, failed_run),
            // Stdin is closed: as at its end.
            Keys::Lines(None) => Command::Continue,
        });
        if command == Command::Interrupted {
            // The SIGINT tripped Python's flag too: the loop reports it once, itself.
            discard_pending_signals(py);
        }
        command
    }
}

/// Waits for `fd` or `wake` to be readable; `None` on Ctrl-C (EINTR).
fn wait_readable(fd: BorrowedFd<'_>, wake: BorrowedFd<'_>) -> Option<bool> {
    loop {
        match poll_readable(&[fd, wake], None) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => return None,
            Err(_) => continue,
            Ok(ready) if ready[1] => return Some(false),
            Ok(ready) if ready[0] => return Some(true),
            Ok(_) => {}
        }
    }
}

/// One byte; `None` at the end of input or on an error.
fn read_byte(mut file: &File) -> Option<u8> {
    let mut byte = [0u8; 1];
    match file.read(&mut byte) {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// One key, without Enter (cbreak mode for the wait only).
fn read_key(tty: &File, wake: BorrowedFd<'_>, failed_run: Option<usize>) -> Command {
    let _cbreak = Cbreak::enter(tty.as_fd());
    loop {
        match wait_readable(tty.as_fd(), wake) {
            None => return Command::Interrupted,
            Some(false) => return Command::Rerun,
            Some(true) => match read_byte(tty) {
                None => return Command::Continue,
                Some(b'c' | b'C') => return Command::Continue,
                Some(b'r' | b'R') => return Command::Rerun,
                Some(b'q' | b'Q') => return Command::Quit,
                Some(b'd' | b'D') if failed_run.is_some() => {
                    return Command::Debug(failed_run.unwrap_or_default());
                }
                Some(_) => {}
            },
        }
    }
}

/// One command per line from stdin (no terminal at all).
fn read_line(stdin: &File, wake: BorrowedFd<'_>, failed_run: Option<usize>) -> Command {
    let mut line = Vec::new();
    loop {
        match wait_readable(stdin.as_fd(), wake) {
            None => return Command::Interrupted,
            Some(false) => return Command::Rerun,
            Some(true) => {
                let Some(byte) = read_byte(stdin) else {
                    return Command::Continue;
                };
                if byte != b'\n' {
                    line.push(byte);
                    continue;
                }
                match line.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'c') => return Command::Continue,
                    Some(b'r') => return Command::Rerun,
                    Some(b'q') => return Command::Quit,
                    Some(b'd') if failed_run.is_some() => {
                        return Command::Debug(failed_run.unwrap_or_default());
                    }
                    _ => line.clear(),
                }
            }
        }
    }
}
