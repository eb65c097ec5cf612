//! Starting the embedded interpreter the way the `python` binary starts itself (PEP 587).
//!
//! pyo3's own initialisation would skip the environment variables `python` honours, leave
//! SIGINT without a handler and give us no say over `sys.argv` and `sys.executable`.

use std::ffi::{CString, OsString};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pyo3::ffi;

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

/// Initialises CPython on the calling thread, which becomes Python's main thread and stays
/// attached. On a configuration error this prints CPython's own message and exits, as
/// `python` does.
pub fn initialize(settings: &Settings) {
    // SAFETY: called once, before any other Python API, from the thread that will run
    // __main__; every PyConfig call gets the config initialised just above.
    unsafe {
        let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        // Our command line is not Python's; `python` flags come from the environment only.
        config.parse_argv = 0;
        // Without this, Ctrl-C never raises KeyboardInterrupt.
        config.install_signal_handlers = 1;
        if settings.interactive {
            config.inspect = 1;
            config.interactive = 1;
        }

        let status = set_argv(&mut config, settings.argv);
        check(&mut config, status);
        let executable = c_string(settings.executable.as_os_str().as_bytes());
        let field = &raw mut config.executable;
        let status = ffi::PyConfig_SetBytesString(&mut config, field, executable.as_ptr());
        check(&mut config, status);

        let status = ffi::Py_InitializeFromConfig(&config);
        check(&mut config, status);
        ffi::PyConfig_Clear(&mut config);
    }
}

unsafe fn set_argv(config: &mut ffi::PyConfig, argv: &[OsString]) -> ffi::PyStatus {
    let owned: Vec<CString> = argv.iter().map(|a| c_string(a.as_bytes())).collect();
    let mut pointers: Vec<*const libc::c_char> = owned.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: `pointers` outlives the call, which copies and decodes the strings the way
    // `python` decodes its own argv (locale encoding, surrogateescape).
    unsafe {
        ffi::PyConfig_SetBytesArgv(
            config,
            pointers.len() as ffi::Py_ssize_t,
            pointers.as_mut_ptr(),
        )
    }
}

/// Arguments and paths cannot contain NUL on Unix; cut at one rather than fail.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// Exits like `python` on a failed initialisation step: CPython prints the fatal error.
unsafe fn check(config: &mut ffi::PyConfig, status: ffi::PyStatus) {
    // SAFETY: `status` comes from a PyConfig call; `config` was initialised.
    unsafe {
        if ffi::PyStatus_Exception(status) != 0 {
            ffi::PyConfig_Clear(config);
            if ffi::PyStatus_IsExit(status) != 0 {
                std::process::exit(status.exitcode);
            }
            ffi::Py_ExitStatusException(status);
        }
    }
}
