//! The interactive prompt, as `python` runs it.

use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;

use pyo3::prelude::*;

use super::exit::{Exit, print_exception};
use super::ffi::{self, fs_decode};
use super::launch::{insert_path0, sys_flag};
use super::program::run_source;
use crate::failure::say;

/// Banner (for a bare `jurigged` only), readline, PYTHONSTARTUP,
/// `sys.__interactivehook__`, then the read-eval-print loop.
pub(super) fn run_repl(py: Python<'_>, bare: bool) -> Exit {
    let stdin_tty = std::io::stdin().is_terminal();
    if bare {
        if let Err(err) = insert_path0(py, b"") {
            err.print(py);
        }
        if !sys_flag(py, "quiet") {
            let version = Python::version_str();
            let platform = py
                .import("sys")
                .and_then(|sys| sys.getattr("platform")?.extract::<String>())
                .unwrap_or_default();
            say(format_args!(
                "Python {version} on {platform}\nType \"help\", \"copyright\", \"credits\" or \"license\" for more information."
            ));
        }
    }
    if stdin_tty {
        // Line editing and history when it is there; python's prompt works without it.
        let _ = py.import("readline");
    }
    if bare {
        run_startup_file(py);
    }
    if let Ok(sys) = py.import("sys")
        && let Ok(hook) = sys.getattr("__interactivehook__")
        && let Err(err) = hook.call0()
    {
        err.print(py);
    }
    ffi::leave_inspect_mode(py);
    #[cfg(Py_3_13)]
    if stdin_tty && !super::launch::env_var_set(py, "PYTHON_BASIC_REPL") {
        // Python 3.13's own prompt (colour, multi-line editing), as `python3.13` starts it.
        let console = py
            .import("_pyrepl.main")
            .and_then(|module| module.getattr("interactive_console")?.call0());
        return match console {
            Ok(_) => Exit::OK,
            Err(err) => super::exit::report_uncaught(py, err, false),
        };
    }
    Exit::code(i32::from(ffi::repl_on_stdin(py)))
}

/// Runs the file named by PYTHONSTARTUP before the first prompt; its errors are printed.
fn run_startup_file(py: Python<'_>) {
    let ignore_env = py
        .import("sys")
        .and_then(|sys| {
            sys.getattr("flags")?
                .getattr("ignore_environment")?
                .is_truthy()
        })
        .unwrap_or(true);
    let Some(path) = std::env::var_os("PYTHONSTARTUP").filter(|p| !p.is_empty() && !ignore_env)
    else {
        return;
    };
    // python says nothing about a startup file it cannot read either.
    let Ok(source) = std::fs::read(&path) else {
        return;
    };
    let outcome = fs_decode(py, path.as_bytes()).and_then(|name| run_source(py, &name, &source));
    if let Err(err) = outcome {
        print_exception(py, err);
    }
}
