//! Driving the binary in a real pseudo-terminal, like pexpect: send keys, wait for text,
//! read the transcript and the screen (vt100).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

pub struct Session {
    output: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    /// Bytes of `output` already consumed by `expect`.
    seen: usize,
}

impl Session {
    /// Starts `program args` in `cwd` on a fresh 24x100 terminal.
    pub fn spawn(program: &Path, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Session {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 100,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut command = CommandBuilder::new(program);
        command.args(args);
        command.cwd(cwd);
        command.env("TERM", "xterm-256color");
        for name in ["PYTHONUNBUFFERED", "VIRTUAL_ENV", "PYTHONSTARTUP"] {
            command.env_remove(name);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pair.slave.spawn_command(command).expect("spawn in pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Session {
            output,
            writer,
            child,
            _master: pair.master,
            seen: 0,
        }
    }

    /// Types `text` (use "\r" for Enter, "\x03" for Ctrl-C, "\x04" for Ctrl-D).
    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits until `needle` appears after what earlier calls consumed; returns the text up
    /// to and including it. Panics with the whole transcript after 10 s.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                // Colour (python 3.13 colours tracebacks and prompts) is not text.
                let text = self.transcript();
                if let Some(pos) = text[self.seen..].find(needle) {
                    let start = self.seen;
                    self.seen += pos + needle.len();
                    return text[start..self.seen].to_string();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {needle:?}; transcript:\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the program wrote so far, without colour and other escape sequences.
    pub fn transcript(&self) -> String {
        let raw = String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned();
        strip_escapes(&raw)
    }

    /// Waits for the program to end and returns its exit code (128 + signal if killed).
    pub fn wait(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return match status.signal() {
                    Some(_) => 128 + status.exit_code(),
                    None => status.exit_code(),
                };
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("program did not exit; transcript:\n{}", self.transcript());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Removes CSI escape sequences (`ESC [ ... final byte`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for next in chars.by_ref() {
                if ('@'..='~').contains(&next) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
