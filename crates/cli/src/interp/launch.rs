//! What runs once the interpreter is up: the program as `__main__`, then the prompt when
//! `-i` or PYTHONINSPECT asks for it, as `python` decides.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;

use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;
use pyo3::types::PyList;

use jurigged_develoop::{LoopName, MainSource};

use super::argv::{Target, set_orig_argv};
use super::exit::{Exit, Ran, Stopped, report_uncaught};
use super::ffi::fs_decode;
use super::{program, repl};
use crate::failure::Failure;

/// Everything needed to run the program once the interpreter is up.
#[derive(Debug)]
pub struct Launch {
    pub target: Target,
    /// `-i`: the prompt after the program, in its namespace.
    pub interactive: bool,
    /// `sys.orig_argv`: the command line `python` would have been given for this program
    /// (see `python_command_line`).
    pub orig_argv: Vec<OsString>,
    /// `--loop` / `--xloop` names.
    pub loops: Vec<LoopName>,
}

/// Runs the program and, with `-i`, the prompt after it. Returns how the process should end.
pub(super) fn run(py: Python<'_>, launch: &Launch) -> Exit {
    if let Err(err) = set_orig_argv(py, &launch.orig_argv) {
        err.print(py);
    }
    let loops = &launch.loops;
    let outcome: Ran = match &launch.target {
        Target::Script(path) => program::run_script_path(py, path, loops),
        Target::Stdin | Target::Repl if !loops.is_empty() => {
            match prepare_loops_from_cwd(py, loops) {
                Ok(()) if matches!(launch.target, Target::Repl) => {
                    return repl::run_repl(py, true);
                }
                Ok(()) => program::run_stdin(py),
                Err(stopped) => Err(stopped),
            }
        }
        Target::Stdin => program::run_stdin(py),
        Target::Module(module) => program::run_module(py, module, loops),
        Target::Command(code) => program::run_command(py, code, loops),
        Target::Call { module, function } => program::call_function(py, module, function, loops),
        Target::Repl => return repl::run_repl(py, true),
    };
    // `-i` or PYTHONINSPECT at start: SystemExit does not end the process before the prompt.
    let inspect = launch.interactive || sys_flag(py, "inspect");
    let exit = match outcome {
        Ok(exit) => exit,
        // A --loop name that names nothing: the program does not run, nor does the prompt.
        Err(Stopped::Failed(failure @ Failure::Loop(_))) => return failure.report(),
        // The others are python's startup errors, after which its prompt still comes.
        Err(Stopped::Failed(failure)) => failure.report(),
        // Without inspect mode SystemExit ends the process at once, prompt or not.
        Err(Stopped::Raised(err)) if !inspect && err.is_instance_of::<PySystemExit>(py) => {
            return report_uncaught(py, err, false);
        }
        Err(Stopped::Raised(err)) => report_uncaught(py, err, inspect),
    };
    // Like python, a program may ask for the prompt by setting PYTHONINSPECT itself; the
    // prompt needs a terminal unless -i forces it.
    let wants_prompt = inspect || env_var_set(py, "PYTHONINSPECT");
    let can_prompt = launch.interactive || std::io::stdin().is_terminal();
    if wants_prompt && can_prompt {
        if let Target::Call { module, .. } = &launch.target {
            // The prompt runs in the called module's namespace, as in jurigged 0.6.
            if let Err(err) = use_module_as_main(py, module) {
                err.print(py);
            }
        }
        return repl::run_repl(py, false);
    }
    exit
}

/// A `sys.flags` field, false if unreadable.
pub(super) fn sys_flag(py: Python<'_>, name: &str) -> bool {
    py.import("sys")
        .and_then(|sys| sys.getattr("flags")?.getattr(name)?.is_truthy())
        .unwrap_or(false)
}

/// An environment variable python honours, unless `-E`/`-I` semantics say to ignore them.
pub(super) fn env_var_set(py: Python<'_>, name: &str) -> bool {
    !sys_flag(py, "ignore_environment") && std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Inserts `path` at `sys.path[0]` unless `-P`/PYTHONSAFEPATH asks not to.
pub(super) fn insert_path0(py: Python<'_>, path: &[u8]) -> PyResult<()> {
    // sys.flags.safe_path exists from 3.11 on; older Pythons always insert.
    if sys_flag(py, "safe_path") {
        return Ok(());
    }
    py.import("sys")?
        .getattr("path")?
        .cast_into::<PyList>()?
        .insert(0, fs_decode(py, path)?)
}

pub(super) fn cwd_bytes() -> Vec<u8> {
    std::env::current_dir()
        .map(|dir| dir.into_os_string().as_bytes().to_vec())
        .unwrap_or_default()
}

/// Sets up `--loop` names before the program on stdin or at the prompt runs: its modules
/// are found from the current directory (`sys.path[0]` is `''` then), so the loop's are
/// too.
fn prepare_loops_from_cwd(py: Python<'_>, loops: &[LoopName]) -> Result<(), Stopped> {
    let path = py.import("sys")?.getattr("path")?;
    path.call_method1("insert", (0, ""))?;
    let prepared = prepare_loops(py, loops, None);
    // run_stdin and run_repl put it there themselves, as python does.
    path.call_method1("remove", ("",))?;
    prepared.map_err(Stopped::from)
}

/// Sets up `--loop` names; a name that names nothing is a failure for the user.
pub(super) fn prepare_loops(
    py: Python<'_>,
    loops: &[LoopName],
    main: Option<MainSource>,
) -> Result<(), Failure> {
    jurigged_develoop::prepare_loops(py, loops, main).map_err(|err| Failure::Loop(err.to_string()))
}

fn use_module_as_main(py: Python<'_>, module: &str) -> PyResult<()> {
    let imported = py.import(module)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("__main__", imported)
}
