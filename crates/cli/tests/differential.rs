//! The differential suite: every program in tests/corpus runs under the reference python
//! and under jurigged, with stdout a pipe and PYTHONUNBUFFERED unset. stdout, stderr and the
//! exit status must be identical; only the program's own name at the start of an error
//! message may differ.

mod common;

use common::{Run, corpus, jurigged, normalise_program_name, python, run_in, run_with_env};

/// Runs `args` (with `stdin`) under both and asserts identical results; returns jurigged's.
fn same(args: &[&str], stdin: Option<&[u8]>) -> Run {
    compare(args, stdin, &[])
}

fn same_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    compare(args, None, env)
}

fn compare(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let dir = corpus();
    let expected = run_with_env(dir.path(), &python(), args, stdin, env);
    // A second copy: the first run may have written __pycache__ or other files.
    let dir = corpus();
    let actual = run_with_env(dir.path(), &jurigged(), args, stdin, env);
    let expected_norm = normalise(&expected);
    let actual_norm = normalise(&actual);
    assert_eq!(
        actual_norm.stdout, expected_norm.stdout,
        "stdout differs for {args:?}"
    );
    assert_eq!(
        actual_norm.stderr, expected_norm.stderr,
        "stderr differs for {args:?}"
    );
    assert_eq!(
        actual.status, expected.status,
        "status differs for {args:?}"
    );
    actual
}

/// The two runs happen in two temporary directories, and object addresses differ from run
/// to run; those are the legitimate differences besides the program name.
fn normalise(run: &Run) -> Run {
    let tmp = std::env::temp_dir().display().to_string();
    let re_dir = |text: &str| {
        // Temp dirs look like /tmp/.tmpAbC123; replace each occurrence by <corpus>.
        let mut out = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find(&format!("{tmp}/.tmp")) {
            out.push_str(&rest[..pos]);
            out.push_str("<corpus>");
            let after = &rest[pos + tmp.len() + 5..];
            let end = after
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after.len());
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    };
    let addresses = |text: &str| {
        let mut out = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find(" at 0x") {
            out.push_str(&rest[..pos]);
            out.push_str(" at 0x<address>");
            let after = &rest[pos + 6..];
            let end = after
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(after.len());
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    };
    Run {
        stdout: addresses(&re_dir(&run.stdout)),
        stderr: normalise_program_name(&addresses(&re_dir(&run.stderr))),
        status: run.status,
    }
}

#[test]
fn argv_and_main_module_attributes() {
    let run = same(&["argv.py", "a", "-v", "--loop", "spaced arg", "ünï"], None);
    assert!(run.stdout.contains("main block ran"), "{}", run.stdout);
}

#[test]
fn script_in_a_subdirectory_imports_its_siblings() {
    let run = same(&["sub/script.py"], None);
    assert!(
        run.stdout.contains("sibling says hello world"),
        "{}",
        run.stdout
    );
}

#[test]
fn script_path_with_dot_segments() {
    same(&["./sub/../argv.py"], None);
}

#[test]
fn package_imports() {
    let run = same(&["imports_pkg.py"], None);
    assert!(run.stdout.contains("answer: 42 41"), "{}", run.stdout);
}

#[test]
fn uncaught_exception_prints_traceback_and_exits_1() {
    let run = same(&["exceptions.py"], None);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("AppError: cannot load 'forty-two'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("    return int(text)"),
        "{}",
        run.stderr
    );
}

#[test]
fn syntax_error_in_script() {
    let run = same(&["syntax_error.py"], None);
    assert!(run.stderr.contains("SyntaxError"), "{}", run.stderr);
}

#[test]
fn syntax_error_in_imported_module() {
    same(&["imports_syntax_error.py"], None);
}

#[test]
fn exit_codes() {
    for kind in [
        "int", "message", "none", "true", "big", "negative", "object", "nested", "os_exit",
    ] {
        same(&["exit_code.py", kind], None);
    }
}

#[test]
fn non_daemon_threads_are_joined() {
    let run = same(&["threads.py"], None);
    assert!(run.stdout.contains("worker 2 done"), "{}", run.stdout);
}

#[test]
fn atexit_handlers_and_finalisation() {
    let run = same(&["atexit_handlers.py"], None);
    assert!(
        run.stdout.contains("registered first, runs last"),
        "{}",
        run.stdout
    );
}

#[test]
fn unicode_and_lone_surrogates() {
    let run = same(&["unicode_output.py"], None);
    assert!(run.stdout.contains("日本語 🐍"), "{}", run.stdout);
    let strict = same_with_env(
        &["unicode_output.py"],
        &[("PYTHONIOENCODING", "utf-8:strict")],
    );
    assert!(
        strict.stderr.contains("UnicodeEncodeError"),
        "{}",
        strict.stderr
    );
}

#[test]
fn large_output_is_complete_when_piped() {
    let run = same(&["large_output.py"], None);
    assert_eq!(run.stdout.lines().count(), 200_000);
}

#[test]
fn reads_stdin() {
    let mut input = b"first\n".to_vec();
    for i in 0..1000 {
        input.extend_from_slice(format!("more {i}\n").as_bytes());
    }
    let run = same(&["read_stdin.py"], Some(&input));
    assert!(
        run.stdout.contains("then 1000 lines, last: more 999"),
        "{}",
        run.stdout
    );
}

#[test]
fn classes_of_main_pickle() {
    let run = same(&["pickling.py"], None);
    assert!(
        run.stdout.contains("Point(x=3, y=6) True"),
        "{}",
        run.stdout
    );
}

#[test]
fn warnings_show_source_lines() {
    same(&["warns.py"], None);
}

#[test]
fn source_encoding_declaration() {
    same(&["encoding_latin1.py"], None);
}

#[test]
fn dash_m_module_with_arguments() {
    let run = same(&["-m", "pkg.tool", "-v", "x"], None);
    assert!(run.stdout.contains("tool main block ran"), "{}", run.stdout);
}

#[test]
fn dash_m_package_runs_its_main() {
    same(&["-m", "pkg", "--flag"], None);
}

#[test]
fn dash_m_traceback() {
    let run = same(&["-m", "pkg.broken"], None);
    assert!(run.stderr.contains("ZeroDivisionError"), "{}", run.stderr);
}

#[test]
fn interactive_after_script_fed_by_a_pipe() {
    let run = same(
        &["-i", "interactive.py"],
        Some(b"x * 2\nprint('y' * 3)\nundefined\n"),
    );
    assert!(run.stdout.contains("42"), "{}", run.stdout);
    assert!(run.stderr.contains(">>> "), "{}", run.stderr);
}

#[test]
fn interactive_after_a_failing_script() {
    same(&["-i", "exit_code.py", "int"], Some(b"kind\n"));
    same(&["-i", "exceptions.py"], Some(b"parse('7') + 1\nexit(6)\n"));
}

#[test]
fn interactive_without_script() {
    same(&["-i"], Some(b"import sys\nsys.argv\n"));
}

#[test]
fn program_from_stdin() {
    let source = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/from_stdin.py"),
    )
    .unwrap();
    same(&[], Some(&source));
    same(&["-", "arg1", "arg2"], Some(&source));
}

#[test]
fn directory_with_main() {
    same(&["app_with_main", "x"], None);
}

#[test]
fn zipapp() {
    let dir = corpus();
    let zip = dir.path().join("app.pyz");
    let made = std::process::Command::new(python())
        .args(["-m", "zipapp", "app_with_main", "-o"])
        .arg(&zip)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(made.success());
    let expected = run_in(dir.path(), &python(), &["app.pyz", "z"], None);
    let actual = run_in(dir.path(), &jurigged(), &["app.pyz", "z"], None);
    assert_eq!(actual, expected);
    assert!(
        actual.stdout.contains("directory main"),
        "{}",
        actual.stdout
    );
}

// Bad input: the same message (under our name) and the same exit status as python.

#[test]
fn missing_script() {
    let run = same(&["no_such_script.py"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.starts_with("jurigged: can't open file"),
        "{}",
        run.stderr
    );
}

#[test]
fn directory_without_main() {
    let run = same(&["not_a_program"], None);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr
            .starts_with("jurigged: can't find '__main__' module"),
        "{}",
        run.stderr
    );
}

#[test]
fn non_python_files() {
    same(&["notes.txt"], None);
    let dir = corpus();
    std::fs::write(dir.path().join("nul.py"), b"x = 1\ny = 'a\0b'\n").unwrap();
    let expected = run_in(dir.path(), &python(), &["nul.py"], None);
    let actual = run_in(dir.path(), &jurigged(), &["nul.py"], None);
    assert_eq!(actual, expected);
    let run = same(&["image.gif"], None);
    assert_eq!(run.status, 1);
}

/// Scripts python cannot decode: its one-line `SyntaxError` (no raw bytes echoed), status
/// 1; and the encodings it can, from a coding cookie or a BOM.
#[test]
fn script_encodings_and_binary_files() {
    let dir = corpus();
    let files: [(&str, &[u8]); 7] = [
        ("png.py", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0"),
        (
            "random.py",
            &[0x92, 0x4c, 0xff, 0x00, 0x0a, 0xe9, 0x17, 0x80, 0x0a],
        ),
        ("latin_undeclared.py", b"x = 1\nprint('caf\xe9')\n"),
        (
            "cp1252.py",
            b"# -*- coding: cp1252 -*-\nprint('\x80 caf\xe9')\n",
        ),
        ("bom.py", b"\xef\xbb\xbfprint('bom')\n"),
        ("unknown_codec.py", b"# coding: nonsense\nprint(1)\n"),
        ("empty.py", b""),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let expected = run_in(dir.path(), &python(), &[name], None);
        let actual = run_in(dir.path(), &jurigged(), &[name], None);
        assert_eq!(actual, expected, "{name}");
    }
    let run = run_in(dir.path(), &jurigged(), &["png.py"], None);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr
            .starts_with("SyntaxError: Non-UTF-8 code starting with '\\x89' in file"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

/// `-c CODE` as python runs it: argv[0] is `-c`, sys.path[0] is '', `<string>` in
/// tracebacks, `sys.orig_argv` the same command line, exit statuses and syntax errors.
#[test]
fn dash_c_code() {
    // sys.orig_argv is 3.10+ in python (jurigged sets it on 3.9 too).
    let code = "import sys\nprint(sys.argv, repr(sys.path[0]))\n\
                print(sys.orig_argv[1:] if sys.version_info >= (3, 10) else '')\n\
                print(__name__, globals().get('__file__'), __spec__, __loader__, __doc__)\n\
                import pkg.helpers; print(pkg.helpers.__name__)";
    let run = same(&["-c", code, "a", "-b", "-c"], None);
    assert!(
        run.stdout.starts_with("['-c', 'a', '-b', '-c'] ''"),
        "{}",
        run.stdout
    );
    same(&["-c", "raise ValueError(1)"], None);
    same(&["-c", "def f(:"], None);
    same(&["-c", "import sys; sys.exit(3)", "x"], None);
    same(&["-c", "print(1)", "-m", "x"], None);
    same(&["-i", "-c", "x = 5"], Some(b"x * 2\n"));
}

#[test]
fn unimportable_modules() {
    let run = same(&["-m", "no_such_module"], None);
    assert_eq!(run.stderr, "jurigged: No module named no_such_module\n");
    same(&["-m", "pkg.no_such_module"], None);
    same(&["-m", "argv.py"], None);
}

#[test]
fn pythoninspect_from_the_environment_or_set_by_the_program() {
    same_with_env(&["-i", "interactive.py"], &[("PYTHONINSPECT", "1")]);
    // Without a terminal and without -i, python does not prompt even when asked to.
    same_with_env(&["exit_code.py", "int"], &[("PYTHONINSPECT", "1")]);
    let dir = corpus();
    std::fs::write(
        dir.path().join("asks.py"),
        "import os\nos.environ['PYTHONINSPECT'] = '1'\nvalue = 5\n",
    )
    .unwrap();
    let expected = run_in(dir.path(), &python(), &["-i", "asks.py"], Some(b"value\n"));
    let actual = run_in(
        dir.path(),
        &jurigged(),
        &["-i", "asks.py"],
        Some(b"value\n"),
    );
    assert_eq!(actual, expected);
}

#[test]
fn module_function_matches_python_calling_it() {
    let dir = corpus();
    let code = "import sys, pkg.helpers; sys.exit(pkg.helpers.main())";
    let expected = run_in(dir.path(), &python(), &["-c", code, "-v", "x"], None);
    let actual = run_in(
        dir.path(),
        &jurigged(),
        &["-m", "pkg.helpers:main", "-v", "x"],
        None,
    );
    assert_eq!(actual, expected);
}
