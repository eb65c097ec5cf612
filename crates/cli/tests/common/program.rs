//! A program running in the background with its output read as it comes, and the ways
//! editors save a file.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How an editor writes a file.
#[derive(Debug, Clone, Copy)]
pub enum Save {
    /// Truncate and write the file itself (most editors, `echo >`).
    InPlace,
    /// Write a temporary file and rename it over the original (VS Code, many tools).
    RenameOver,
    /// Delete the file, then create it again.
    DeleteCreate,
    /// vim's default `backupcopy=auto`: move the original aside, write a new file.
    VimBackup,
}

pub const ALL_SAVES: [Save; 4] = [
    Save::InPlace,
    Save::RenameOver,
    Save::DeleteCreate,
    Save::VimBackup,
];

/// Writes `text` to `path` the way `style` does.
pub fn save(path: &Path, text: &str, style: Save) {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    match style {
        Save::InPlace => std::fs::write(path, text).unwrap(),
        Save::RenameOver => {
            let temporary = dir.join(format!(".{name}.tmp"));
            std::fs::write(&temporary, text).unwrap();
            std::fs::rename(&temporary, path).unwrap();
        }
        Save::DeleteCreate => {
            std::fs::remove_file(path).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Save::VimBackup => {
            let backup = dir.join(format!("{name}~"));
            std::fs::rename(path, &backup).unwrap();
            std::fs::write(path, text).unwrap();
            std::fs::remove_file(&backup).unwrap();
        }
    }
}

/// Replaces `from` by `to` in the file (which must contain it) and saves it in place.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    save(path, &text.replacen(from, to, 1), Save::InPlace);
}

pub struct Program {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// How much of stdout `expect` already consumed.
    seen: usize,
    /// Started as the leader of its own process group: children it spawned (a reloader's
    /// server) are killed with it.
    own_group: bool,
}

impl Program {
    pub fn start(program: &Path, args: &[&str], cwd: &Path) -> Program {
        Self::spawn(Command::new(program), args, cwd, false, &[])
    }

    /// Like `start`, in a process group of its own that is killed whole at the end, with
    /// `env` added to the environment.
    pub fn start_in_own_group(
        program: &Path,
        args: &[&str],
        cwd: &Path,
        env: &[(&str, &str)],
    ) -> Program {
        let mut command = Command::new(program);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        Self::spawn(command, args, cwd, true, env)
    }

    fn spawn(
        mut command: Command,
        args: &[&str],
        cwd: &Path,
        own_group: bool,
        env: &[(&str, &str)],
    ) -> Program {
        let mut child = command
            .args(args)
            .current_dir(cwd)
            .env_remove("PYTHONUNBUFFERED")
            .env_remove("VIRTUAL_ENV")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
                Arc::clone(&stdout),
            ),
            (Box::new(child.stderr.take().unwrap()), Arc::clone(&stderr)),
        ] {
            let mut pipe = pipe;
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            });
        }
        Program {
            child,
            stdout,
            stderr,
            seen: 0,
            own_group,
        }
    }

    /// Waits until stdout shows `needle` after what was consumed; returns the text up to it.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let out = self.stdout.lock().unwrap();
                if let Some(pos) = out[self.seen..].find(needle) {
                    let end = self.seen + pos + needle.len();
                    let text = out[self.seen..end].to_string();
                    self.seen = end;
                    return text;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the last line printed on stdout is `line`; returns stdout.
    pub fn expect_last_line(&mut self, line: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.stdout();
            if out.lines().last() == Some(line) && out.ends_with('\n') {
                return out;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {line:?} as the last line\n--- stdout ---\n{out}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until stderr contains `needle` (anywhere).
    pub fn expect_stderr(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let err = self.stderr();
            if err.contains(needle) {
                return err;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {needle:?} on stderr\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout(),
                    err
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asserts that jurigged reported no problem (no `jurigged:` line on stderr).
    pub fn assert_no_errors(&self) {
        let stderr = self.stderr();
        assert!(!stderr.contains("jurigged:"), "{stderr}");
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the program to end; returns its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status.code();
            }
            if Instant::now() > deadline {
                panic!("the program did not end\n--- stderr ---\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if self.own_group {
            // SAFETY: signalling the process group this test created.
            unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
