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

use std::io::Write;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::Python;
use pyo3::ffi;

use super::format::{duration, rule};
use super::runner::{Command, Interface, Run, Status};

/// Where keys come from.
enum Keys {
    /// A terminal read in cbreak mode; `owned` when we opened /dev/tty ourselves.
    Terminal { fd: RawFd, owned: bool },
    /// No terminal: lines from stdin.
    Lines,
}

pub struct Basic {
    keys: Keys,
    /// The run whose error `d` opens the debugger on.
    failed_run: Option<usize>,
    /// The last prompt line, shown again when the debugger is left.
    prompt: String,
}

impl Basic {
    pub fn new() -> Basic {
        // SAFETY: isatty/open on fixed paths; the fd is closed on drop.
        let keys = unsafe {
            if libc::isatty(0) == 1 {
                Keys::Terminal {
                    fd: 0,
                    owned: false,
                }
            } else {
                let fd = libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
                if fd >= 0 {
                    Keys::Terminal { fd, owned: true }
                } else {
                    Keys::Lines
                }
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
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

impl Drop for Basic {
    fn drop(&mut self) {
        if let Keys::Terminal { fd, owned: true } = self.keys {
            // SAFETY: closing the /dev/tty fd we opened.
            unsafe { libc::close(fd) };
        }
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

    fn wait(&mut self, py: Python<'_>, wake: RawFd) -> Command {
        static ANNOUNCED: AtomicBool = AtomicBool::new(false);
        if matches!(self.keys, Keys::Lines) && !ANNOUNCED.swap(true, Ordering::Relaxed) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "jurigged: no terminal for keys: reading commands (c, r, q) one per line from standard input; end of input continues"
            );
        }
        let keys = match self.keys {
            Keys::Terminal { fd, .. } => Some(fd),
            Keys::Lines => None,
        };
        let failed_run = self.failed_run;
        let command = py.detach(|| match keys {
            Some(fd) => read_key(fd, wake, failed_run),
            None => read_line(wake, failed_run),
        });
        if command == Command::Interrupted {
            // The SIGINT tripped Python's flag too: the loop reports it once, itself.
            // SAFETY: the GIL is held again here.
            unsafe {
                if ffi::PyErr_CheckSignals() != 0 {
                    ffi::PyErr_Clear();
                }
            }
        }
        command
    }
}

/// Waits for `fd` or `wake` to be readable; `None` on Ctrl-C (EINTR).
fn wait_readable(fd: RawFd, wake: RawFd) -> Option<bool> {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: polling two valid fds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                return None;
            }
            continue;
        }
        if fds[1].revents != 0 {
            return Some(false);
        }
        if fds[0].revents != 0 {
            return Some(true);
        }
    }
}

/// One key, without Enter (cbreak mode for the wait only).
fn read_key(fd: RawFd, wake: RawFd, failed_run: Option<usize>) -> Command {
    let saved = cbreak(fd);
    let command = loop {
        match wait_readable(fd, wake) {
            None => break Command::Interrupted,
            Some(false) => break Command::Rerun,
            Some(true) => {
                let mut byte = [0u8; 1];
                // SAFETY: reading one byte from a readable fd.
                let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
                if n <= 0 {
                    break Command::Continue;
                }
                match byte[0] {
                    b'c' | b'C' => break Command::Continue,
                    b'r' | b'R' => break Command::Rerun,
                    b'q' | b'Q' => break Command::Quit,
                    b'd' | b'D' if failed_run.is_some() => {
                        break Command::Debug(failed_run.unwrap_or_default());
                    }
                    _ => {}
                }
            }
        }
    };
    if let Some(saved) = saved {
        // SAFETY: restoring the mode saved from this fd.
        unsafe { libc::tcsetattr(fd, libc::TCSADRAIN, &saved) };
    }
    command
}

/// Puts the terminal in cbreak mode (keys without Enter, no echo); returns the old mode.
fn cbreak(fd: RawFd) -> Option<libc::termios> {
    // SAFETY: termios calls on a terminal fd with a local struct.
    unsafe {
        let mut mode: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut mode) != 0 {
            return None;
        }
        let saved = mode;
        mode.c_lflag &= !(libc::ICANON | libc::ECHO);
        mode.c_cc[libc::VMIN] = 1;
        mode.c_cc[libc::VTIME] = 0;
        libc::tcsetattr(fd, libc::TCSADRAIN, &mode);
        Some(saved)
    }
}

/// One command per line from stdin (no terminal at all).
fn read_line(wake: RawFd, failed_run: Option<usize>) -> Command {
    let mut line = Vec::new();
    loop {
        match wait_readable(0, wake) {
            None => return Command::Interrupted,
            Some(false) => return Command::Rerun,
            Some(true) => {
                let mut byte = [0u8; 1];
                // SAFETY: reading one byte from stdin, which is readable.
                let n = unsafe { libc::read(0, byte.as_mut_ptr().cast(), 1) };
                if n <= 0 {
                    return Command::Continue;
                }
                if byte[0] != b'\n' {
                    line.push(byte[0]);
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
