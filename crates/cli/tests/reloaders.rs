//! Frameworks that restart the program themselves: werkzeug's reloader (Flask
//! `debug=True`) re-runs `[sys.executable, *sys.orig_argv[1:]]`, so `sys.orig_argv` must be
//! python's command line for the program, never jurigged's own options.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::program::Program;
use common::{jurigged, project, python, run_in};

const PRINT_ORIG_ARGV: &str = "import sys\nprint(sys.orig_argv[1:])\n";

#[test]
fn orig_argv_is_pythons_whatever_jurigged_options_are_given() {
    let dir = project(&[("app.py", PRINT_ORIG_ARGV)]);
    let expected = "['app.py', 'a', '-v']\n";
    // python 3.9 has no sys.orig_argv (jurigged sets it there too, for reloaders that look).
    if env!("JURIGGED_PYTHON_VERSION") != "3.9" {
        let python = run_in(dir.path(), &python(), &["app.py", "a", "-v"], None);
        assert_eq!(python.stdout, expected);
    }
    for options in [
        &["-w", "."][..],
        &["-d", "0.01"],
        &["-v"],
        &["--poll", "0.1"],
        &["--dev", "--restart", "nothing"],
        &["-w", ".", "-d", "0.01", "-v"],
    ] {
        let mut args = options.to_vec();
        args.extend(["app.py", "a", "-v"]);
        let run = run_in(dir.path(), &jurigged(), &args, None);
        assert_eq!(run.stdout, expected, "with {options:?}: {}", run.stderr);
    }
    let run = run_in(dir.path(), &jurigged(), &["-i", "app.py"], Some(b""));
    assert!(run.stdout.starts_with("['-i', 'app.py']\n"), "{run:?}");
}

#[test]
fn orig_argv_reruns_modules_and_module_functions_under_python() {
    let dir = project(&[
        (
            "tool.py",
            "import sys\nprint('module', sys.argv[1:])\ndef main():\n    print('main', sys.argv[1:])\n    return 3\n",
        ),
        (
            "rerun.py",
            "import os, subprocess, sys\n\
             import tool\n\
             if not os.environ.get('RERUN'):\n\
             \x20   env = dict(os.environ, RERUN='1')\n\
             \x20   sys.exit(subprocess.run([sys.executable, *sys.orig_argv[1:]], env=env).returncode)\n",
        ),
    ]);
    // `-m module:function` has no python spelling; the rerun must do the same thing.
    let run = run_in(dir.path(), &jurigged(), &["-m", "tool:main", "x"], None);
    assert_eq!(run.stdout, "module ['x']\nmain ['x']\n");
    assert_eq!(run.status, 3);
    let rerun = run_in(
        dir.path(),
        &jurigged(),
        &["-d", "0.01", "-m", "rerun", "y"],
        None,
    );
    assert_eq!(
        rerun.stdout, "module ['y']\nmodule ['y']\n",
        "{}",
        rerun.stderr
    );
}

/// A free port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn flask_debug_reloader_serves_with_every_option() {
    // The build python's own Flask (.ci/run installs it), else a venv with it, so that
    // `make test-python` tests every Python: 3.9's werkzeug rebuilds the command line from
    // sys.argv and `__main__`, 3.10+'s from sys.orig_argv.
    let has_flask = run_in(
        std::path::Path::new("."),
        &python(),
        &["-c", "import flask"],
        None,
    )
    .status
        == 0;
    let venv = if has_flask {
        None
    } else {
        match common::venv_with("flask") {
            Some(venv) => Some(venv.to_str().unwrap().to_string()),
            None => return,
        }
    };
    let env: Vec<(&str, &str)> = venv.iter().map(|v| ("VIRTUAL_ENV", v.as_str())).collect();
    for options in [
        &["-w", "."][..],
        &["-d", "0.01"],
        &["-v"],
        &["--poll", "0.1"],
    ] {
        let port = free_port();
        let app = format!(
            "import os, sys\n\
             from flask import Flask\n\
             app = Flask(__name__)\n\
             @app.route('/')\n\
             def index():\n    return 'served by ' + ('child' if os.environ.get('WERKZEUG_RUN_MAIN') else 'parent')\n\
             if __name__ == '__main__':\n    app.run(port={port}, debug=True)\n"
        );
        let dir = project(&[("app.py", &app)]);
        let mut args = options.to_vec();
        args.push("app.py");
        let program = Program::start_in_own_group(&jurigged(), &args, dir.path(), &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        let response = loop {
            if let Some(response) = http_get(port) {
                break response;
            }
            assert!(
                Instant::now() < deadline,
                "with {options:?} the server never came up\n{}",
                program.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            response.ends_with("served by child"),
            "with {options:?}: {response}"
        );
        let stderr = program.stderr();
        assert!(
            !stderr.contains("Unknown option") && !stderr.contains("can't open file"),
            "with {options:?}: {stderr}"
        );
        // `-v` must not reach the child as python's -v (import tracing).
        assert!(!stderr.contains("# installing zipimport hook"), "{stderr}");
    }
}
