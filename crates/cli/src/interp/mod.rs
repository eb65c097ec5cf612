//! The embedded interpreter: starting it like `python`, running the program as `__main__`,
//! and ending the process the way `python` ends it.

mod init;
mod run;
pub mod venv;

pub use init::{Settings, initialize};
pub use run::{Exit, Launch, Target, program_argv, python_command_line, run};

use pyo3::ffi;

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
