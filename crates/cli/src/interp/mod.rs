//! The embedded interpreter: an [`Interpreter`] started like `python`, running the program
//! as `__main__`, finished the way `python` finishes.
//!
//! `ffi` holds every unsafe call; `argv` is `sys.argv` and `sys.orig_argv`; `launch` picks
//! what runs and whether the prompt follows; `program` runs a script, stdin, `-c` and `-m`;
//! `repl` is the prompt; `exit` turns what escaped the program into an exit status.

mod argv;
mod exit;
mod ffi;
mod launch;
mod program;
mod repl;
pub mod venv;

use std::ffi::OsString;
use std::marker::PhantomData;
use std::path::Path;

use pyo3::Python;

pub use argv::{Target, program_argv, python_command_line};
pub use exit::Exit;
pub use ffi::die_by_sigint;
pub use launch::Launch;

/// What the interpreter is told before it starts.
pub struct Settings<'a> {
    /// `sys.argv`.
    pub argv: &'a [OsString],
    /// `sys.executable`; decides `sys.prefix` and so which site-packages import.
    pub executable: &'a Path,
    /// `-i`: like `python -i`, stdin is read as a prompt even when it is not a terminal and
    /// SystemExit does not end the process before the prompt.
    pub interactive: bool,
}

/// Why the interpreter did not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configuration step failed: CPython's function and message, as `python` prints
    /// them after "Fatal Python error:".
    #[error("cannot start Python: {function}: {message}")]
    Config { function: String, message: String },
    /// CPython asked to exit with this status while starting, having said why.
    #[error("Python exited with status {0} while starting")]
    Exit(i32),
    #[error("Python was already started in this process")]
    AlreadyStarted,
}

impl InitError {
    /// The exit status, `python`'s for the same failure.
    pub fn status(&self) -> i32 {
        match self {
            InitError::Exit(status) => *status,
            InitError::Config { .. } | InitError::AlreadyStarted => 1,
        }
    }
}

/// CPython, running on the thread that started it: that thread is Python's main thread and
/// stays attached until [`Interpreter::finish`], hence not `Send`. One per process.
pub struct Interpreter {
    main_thread: PhantomData<*const ()>,
}

impl Interpreter {
    /// Initialises CPython on the calling thread the way the `python` binary starts itself
    /// (PEP 587). Built-in modules must be registered before.
    pub fn start(settings: &Settings) -> Result<Interpreter, InitError> {
        ffi::initialize(settings)?;
        Ok(Interpreter {
            main_thread: PhantomData,
        })
    }

    pub fn python(&self) -> Python<'_> {
        ffi::main_thread(self)
    }

    /// Runs the program and, with `-i`, the prompt after it. Returns how the process
    /// should end.
    pub fn run(&self, launch: &Launch) -> Exit {
        launch::run(self.python(), launch)
    }

    /// Finalizes like `python`: `Py_FinalizeEx` joins non-daemon threads, runs atexit
    /// handlers and flushes the standard streams; the status becomes 120 if that flush
    /// fails. What is left to do is ending the process with the returned [`Exit`].
    pub fn finish(self, exit: Exit) -> Exit {
        if ffi::finalize(self) {
            exit
        } else {
            Exit { code: 120, ..exit }
        }
    }
}
