//! Shared helpers for end-to-end tests: the built binary, the reference python, a private
//! copy of the corpus, and running a command with stdout and stderr as pipes.
#![allow(dead_code)]

pub mod package;
pub mod program;
pub mod pty;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The loop the live-patching test programs end with: prints `probe()` whenever its value
/// changes (an exception as `error: ...`), so a test waits for a line instead of sleeping.
pub const LOOP: &str = r#"
import time as _time

_last = None
while True:
    try:
        _value = probe()
    except Exception as _error:
        _value = f"error: {_error!r}"
    if _value != _last:
        print(_value, flush=True)
        _last = _value
    _time.sleep(0.005)
"#;

/// The binary under test.
pub fn jurigged() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jurigged"))
}

/// The python jurigged was built against: the reference for every differential case.
pub fn python() -> PathBuf {
    PathBuf::from(env!("JURIGGED_PYTHON_EXECUTABLE"))
}

/// A fresh copy of tests/corpus in a temporary directory, so runs write no __pycache__
/// into the repository and tests cannot disturb each other.
pub fn corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"),
        dir.path(),
    );
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temporary project holding `files` (path, text).
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    /// The exit code, or 128 + signal like a shell reports it.
    pub status: i32,
}

/// Runs `program args` in `cwd` with stdout and stderr as pipes, PYTHONUNBUFFERED unset,
/// feeding `stdin` (or nothing: /dev/null).
pub fn run_in(cwd: &Path, program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with_env(cwd, program, args, stdin, &[])
}

pub fn run_with_env(
    cwd: &Path,
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Run {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("PYTHONUNBUFFERED")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONSTARTUP")
        .env_remove("PYTHONPATH")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Write from a thread: the program may print a lot before it reads.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let output = child.wait_with_output().expect("wait");
    to_run(output)
}

pub fn to_run(output: Output) -> Run {
    let status = output
        .status
        .code()
        .or_else(|| output.status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        status,
    }
}

/// A virtual environment of the build python with `package` installed, made once per build
/// directory (pip needs the network): None, with a note, when it cannot be made outside CI.
pub fn venv_with(package: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{package}-venv-{}",
        env!("JURIGGED_PYTHON_VERSION")
    ));
    let venv_python = venv.join("bin/python");
    let import = format!("import {package}");
    let has_package = || {
        venv_python.exists()
            && run_in(Path::new("."), &venv_python, &["-c", &import], None).status == 0
    };
    if !has_package() {
        let made = run_in(
            Path::new("."),
            &python(),
            &["-m", "venv", venv.to_str().unwrap()],
            None,
        );
        let pip = venv.join("bin/pip");
        let installed = made.status == 0
            && run_in(Path::new("."), &pip, &["install", "-q", package], None).status == 0;
        if !installed || !has_package() {
            assert!(
                std::env::var_os("CI").is_none(),
                "could not make a venv with {package} in {}",
                venv.display()
            );
            eprintln!("skipped: no venv with {package} (pip install {package} needs the network)");
            return None;
        }
    }
    Some(venv)
}

/// Replaces the program's own name where it starts a message (`python3.11: can't open`,
/// `jurigged: can't open`) with `<prog>`: the one difference the suite allows.
pub fn normalise_program_name(text: &str) -> String {
    let reference = python();
    let python = reference.display().to_string();
    let python_real = std::fs::canonicalize(&reference)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| python.clone());
    text.lines()
        .map(|line| {
            for prefix in [python.as_str(), python_real.as_str(), "jurigged"] {
                if let Some(rest) = line.strip_prefix(prefix)
                    && rest.starts_with(": ")
                {
                    return format!("<prog>{rest}");
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
