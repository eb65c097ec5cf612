//! Process-level behaviour that needs more than a corpus run: Ctrl-C, `-m module:function`,
//! our own options, and never showing a Rust panic.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Run, corpus, jurigged, python, run_in, run_with_env, to_run};

/// Starts `program sigint.py`, waits for "ready", sends SIGINT, returns the run.
fn interrupted(program: &std::path::Path) -> Run {
    let dir = corpus();
    let mut child = Command::new(program)
        .arg("sigint.py")
        .current_dir(dir.path())
        .env_remove("PYTHONUNBUFFERED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "ready\n");
    // Let the program get into its sleep, so both are interrupted at the same place.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let mut run = to_run(output);
    run.stdout = first + &rest;
    run.stderr = run
        .stderr
        .replace(&dir.path().display().to_string(), "<dir>");
    run
}

#[test]
fn ctrl_c_raises_keyboard_interrupt_and_exits_130() {
    let expected = interrupted(&python());
    let actual = interrupted(&jurigged());
    assert_eq!(actual, expected);
    assert_eq!(actual.status, 130);
    assert!(
        actual.stdout.contains("finally block ran"),
        "{}",
        actual.stdout
    );
    assert!(
        actual.stderr.contains("KeyboardInterrupt"),
        "{}",
        actual.stderr
    );
}

#[test]
fn module_function_is_imported_and_called() {
    let dir = corpus();
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["-m", "pkg.helpers:main", "-v", "x"],
        None,
    );
    assert_eq!(run.stdout, "pkg.helpers.main called with ['-v', 'x']\n");
    assert_eq!((run.stderr.as_str(), run.status), ("", 0));
}

#[test]
fn module_function_exceptions_and_status() {
    let dir = corpus();
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["-m", "pkg.helpers:failing"],
        None,
    );
    assert_eq!(run.status, 1);
    // Only the program's frames: nothing of jurigged's.
    assert!(
        run.stderr
            .starts_with("Traceback (most recent call last):\n  File "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("RuntimeError: called and failed\n"),
        "{}",
        run.stderr
    );
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["-m", "pkg.helpers:returns_three"],
        None,
    );
    assert_eq!(run.status, 3, "an int result is the exit status");
}

#[test]
fn module_function_bad_names() {
    let dir = corpus();
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["-m", "pkg.helpers:nothing"],
        None,
    );
    assert_eq!(
        run.stderr,
        "jurigged: module 'pkg.helpers' has no function 'nothing'\n"
    );
    assert_eq!(run.status, 1);
    let run = run_in(dir.path(), &jurigged(), &["-m", "nowhere:main"], None);
    assert_eq!(run.stderr, "jurigged: No module named 'nowhere'\n");
    assert_eq!(run.status, 1);
    // A failing import inside the module is the program's error: a full traceback.
    let run = run_in(dir.path(), &jurigged(), &["-m", "pkg.broken:outer"], None);
    assert!(run.stderr.contains("ZeroDivisionError"), "{}", run.stderr);
    assert_eq!(run.status, 1);
}

#[test]
fn interactive_after_module_function_uses_its_namespace() {
    let dir = corpus();
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["-i", "-m", "pkg.helpers:main"],
        Some(b"answer()\n__name__\n"),
    );
    assert_eq!(
        run.stdout,
        "pkg.helpers.main called with []\n42\n'pkg.helpers'\n"
    );
    assert_eq!(run.status, 0);
}

#[test]
fn unknown_option_is_a_usage_error() {
    let dir = corpus();
    let run = run_in(dir.path(), &jurigged(), &["--frobnicate", "argv.py"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .starts_with("error: unexpected argument '--frobnicate'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Usage: jurigged"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["--debounce", "soon", "argv.py"],
        None,
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("expected a number of seconds"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_jurigged_option_is_accepted() {
    let dir = corpus();
    let args = [
        "-w",
        ".",
        "--watch",
        "pkg",
        "-d",
        "0",
        "--poll",
        "0.5",
        "-v",
        "--verbose",
        "-l",
        "f",
        "--loop",
        "g",
        "-x",
        "H.h",
        "--xloop",
        "k",
        "--loop-interface",
        "basic",
        "--dev",
        "loop_names.py",
        "--loop",
        "mine",
    ];
    let run = run_in(dir.path(), &jurigged(), &args, None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("defined f, g, H.h and k"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_loop_name_that_names_nothing_is_one_line() {
    let dir = corpus();
    let script = dir.path().join("loop_names.py").display().to_string();
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["--loop", "H.missing", "loop_names.py"],
        None,
    );
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        format!("jurigged: --loop H.missing: no function or method 'H.missing' in {script}\n")
    );
    let run = run_in(
        dir.path(),
        &jurigged(),
        &["--xloop", "json:nope", "loop_names.py"],
        None,
    );
    assert_eq!(
        run.stderr,
        "jurigged: --xloop json:nope: no function or method 'nope' in module 'json'\n"
    );
}

/// A setting CPython refuses while starting: the same status as python, CPython's reason
/// in our one line, and nothing run.
#[test]
fn python_refusing_to_start_is_one_line() {
    let dir = corpus();
    let env = [("PYTHONHASHSEED", "not a seed")];
    let args = ["-c", "print('ran')"];
    let expected = run_with_env(dir.path(), &python(), &args, None, &env);
    let run = run_with_env(dir.path(), &jurigged(), &args, None, &env);
    assert_eq!(run.status, expected.status);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "jurigged: cannot start Python: config_init_hash_seed: PYTHONHASHSEED must be \
         \"random\" or an integer in range [0; 4294967295]\n"
    );
}

#[test]
fn help_lists_every_option() {
    let run = run_in(std::path::Path::new("."), &jurigged(), &["--help"], None);
    assert_eq!(run.status, 0);
    for option in [
        "--interactive",
        "--watch",
        "--debounce",
        "--poll",
        "-m <MODULE[:FUNCTION]>",
        "--loop",
        "--xloop",
        "--loop-interface",
        "--verbose",
        "--dev",
        "--version",
        "--restart",
        "[SCRIPT]",
    ] {
        assert!(
            run.stdout.contains(option),
            "{option} missing from:\n{}",
            run.stdout
        );
    }
}

#[test]
fn version_names_the_embedded_python() {
    let run = run_in(
        std::path::Path::new("."),
        &jurigged(),
        &["--version", "x.py"],
        None,
    );
    assert_eq!(run.status, 0);
    let expected = format!(
        "jurigged {} (Python {})\n",
        env!("CARGO_PKG_VERSION"),
        env!("JURIGGED_PYTHON_VERSION")
    );
    assert_eq!(run.stdout, expected);
}

/// Runs large_output.py with its stdout closed at once, under `program`.
fn with_closed_stdout(program: &std::path::Path) -> (String, Option<i32>) {
    let dir = corpus();
    let mut child = Command::new(program)
        .arg("large_output.py")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&dir.path().display().to_string(), "<dir>");
    (stderr, output.status.code())
}

#[test]
fn a_closed_stdout_is_handled_like_python() {
    let expected = with_closed_stdout(&python());
    let actual = with_closed_stdout(&jurigged());
    assert!(actual.0.contains("BrokenPipeError"), "{}", actual.0);
    assert!(!actual.0.contains("panicked"), "{}", actual.0);
    assert_eq!(actual, expected);
}

#[test]
fn the_jurigged_module_is_built_in() {
    let dir = corpus();
    std::fs::write(
        dir.path().join("uses_api.py"),
        "import jurigged\nfrom jurigged import watch\nfrom jurigged.loop import loop, xloop, loop_on_error, give, __\n\
         watcher = watch('./*.py')\nwatcher.stop()\nprint(callable(loop), callable(__.give), jurigged.loop.give is give)\n\
         try:\n    __builtins__.__\nexcept AttributeError:\n    print('no __ in builtins without --dev')\n",
    )
    .unwrap();
    let run = run_in(dir.path(), &jurigged(), &["uses_api.py"], None);
    // watch() with jurigged's default logger reports what it watches, as jurigged does.
    assert!(
        run.stderr.starts_with("Watch /") && run.stderr.ends_with("/uses_api.py\n"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "True True True\nno __ in builtins without --dev\n"
    );
    let run = run_in(dir.path(), &jurigged(), &["--dev", "-m", "argv"], Some(b""));
    assert_eq!(run.status, 0, "{}", run.stderr);
}
