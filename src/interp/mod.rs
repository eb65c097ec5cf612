//! The embedded interpreter: starting it like `python`, running the program as `__main__`,
//! and ending the process the way `python` ends it.

mod init;
mod run;
pub mod venv;

pub use init::{Settings, initialize};
pub use run::{
    Exit, Launch, Target, flush_std_streams, format_traceback, program_argv, python_command_line,
    run,
};

use pyo3::ffi;
use pyo3::prelude::*;

/// Ends the process like `python`: `Py_FinalizeEx` joins non-daemon threads, runs atexit
/// handlers and flushes the standard streams (status 120 if that flush fails); an uncaught
/// KeyboardInterrupt then kills the process with SIGINT so the shell sees status 130.
pub fn finish(exit: Exit) -> ! {
    let mut code = exit.code;
    // SAFETY: called once, on the main thread, which is attached; nothing touches Python
    // after this.
    unsafe {
        if ffi::Py_FinalizeEx() < 0 {
            code = 120;
        }
        if exit.keyboard_interrupt {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::kill(libc::getpid(), libc::SIGINT);
        }
    }
    std::process::exit(code)
}

/// Ends the program from a thread other than the main one (`q` in a loop there, where a
/// SystemExit would end only that thread): atexit handlers run and the standard streams
/// are flushed, as at a normal exit, then the process exits with `code` at once, without
/// waiting for the program's other threads.
pub fn exit_from_thread(py: Python<'_>, code: i32) -> ! {
    if let Ok(atexit) = py.import("atexit") {
        // atexit prints what a handler raises itself, as at a normal exit.
        let _ = atexit.call_method0("_run_exitfuncs");
    }
    flush_std_streams(py);
    // SAFETY: clearing a failed best-effort call; then ending the process without running
    // C atexit handlers under other threads still using the interpreter.
    unsafe {
        ffi::PyErr_Clear();
        libc::_exit(code)
    }
}
