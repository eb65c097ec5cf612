//! Driving the binary in a real pseudo-terminal, like pexpect: send keys, wait for text,
//! read the transcript and the screen (vt100).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

pub struct Session {
    output: Arc<Mutex<Vec<u8>>>,
    /// Set when the reader has seen the end of the output.
    drained: Arc<std::sync::atomic::AtomicBool>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    /// The screen, as a terminal would show it.
    screen: Arc<Mutex<vt100::Parser>>,
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
        for name in [
            "PYTHONUNBUFFERED",
            "VIRTUAL_ENV",
            "PYTHONSTARTUP",
            "PYTHONBREAKPOINT",
            "HOT_RESTART_DEBUGGER",
        ] {
            command.env_remove(name);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pair.slave.spawn_command(command).expect("spawn in pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            non_zero(24),
            non_zero(100),
            0,
        )));
        let (sink, terminal, answer) = (
            Arc::clone(&output),
            Arc::clone(&screen),
            Arc::clone(&writer),
        );
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let end = Arc::clone(&drained);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                // The screen first: what `expect` finds in the transcript is on it already.
                let mut parser = terminal.lock().unwrap();
                parser.process(&buffer[..n]);
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
                // Answer cursor position requests, as a real terminal does.
                if buffer[..n].windows(4).any(|w| w == b"\x1b[6n") {
                    let (row, column) = parser.screen().cursor_position();
                    let reply = format!("\x1b[{};{}R", row + 1, column + 1);
                    let _ = answer.lock().unwrap().write_all(reply.as_bytes());
                }
            }
            end.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Session {
            output,
            drained,
            screen,
            writer,
            child,
            _master: pair.master,
            seen: 0,
        }
    }

    /// Types `text` (use "\r" for Enter, "\x03" for Ctrl-C, "\x04" for Ctrl-D).
    pub fn send(&mut self, text: &str) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(text.as_bytes()).unwrap();
        writer.flush().unwrap();
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
        strip_escapes(&self.output())
    }

    /// Everything the program wrote so far, escape sequences included.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The screen's text now.
    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Whether the program has the alternate screen, and the cursor hidden.
    pub fn screen_modes(&self) -> (bool, bool) {
        let parser = self.screen.lock().unwrap();
        (
            parser.screen().alternate_screen(),
            parser.screen().hide_cursor(),
        )
    }

    /// Waits until the screen shows `needle`; returns the screen. Panics after 10 s.
    pub fn expect_screen(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() > deadline {
                let transcript = self.transcript();
                let tail: String = transcript
                    .chars()
                    .rev()
                    .take(600)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!(
                    "timed out waiting for {needle:?} on screen:\n{screen}\n--- end of transcript ---\n{tail}"
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resizes the terminal (the program gets SIGWINCH).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self._master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        self.screen
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(non_zero(rows), non_zero(cols));
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }

    /// Whether the terminal is back in cooked mode (line editing and echo on).
    pub fn terminal_cooked(&self) -> bool {
        let termios = self._master.get_termios().unwrap();
        let flags = termios.local_flags;
        use nix::sys::termios::LocalFlags;
        flags.contains(LocalFlags::ICANON) && flags.contains(LocalFlags::ECHO)
    }

    /// Waits (briefly) until everything the program wrote has been read, so the screen is
    /// final when a test looks at it after the program ended.
    fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.drained.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the program to end; returns the name of the signal that ended it, if one did.
    pub fn wait_signal(&mut self) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain();
                return status.signal().map(str::to_string);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("program did not exit; transcript:\n{}", self.transcript());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the program ended within `timeout`.
    #[allow(dead_code)]
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Waits for the program to end and returns its exit code (128 + signal if killed).
    pub fn wait(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain();
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

fn non_zero(value: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(value.max(1)).unwrap()
}
