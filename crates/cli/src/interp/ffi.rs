//! The calls into CPython's C API and the C library that pyo3 does not wrap: starting and
//! finalizing the interpreter the way the `python` binary does (PEP 587), running the
//! main module's code from Rust so no frame of ours shows in a traceback, and the prompt
//! on C's standard input. Every function here is safe to call; the `unsafe` stays inside.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io::{Seek, Write};
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::{InitError, Interpreter, Settings};

static STARTED: AtomicBool = AtomicBool::new(false);

/// Initialises CPython on the calling thread, which becomes Python's main thread and stays
/// attached. pyo3's own initialisation would skip the environment variables `python`
/// honours, leave SIGINT without a handler and give us no say over `sys.argv` and
/// `sys.executable`. Once per process: CPython cannot be initialised again after
/// finalizing.
pub(super) fn initialize(settings: &Settings) -> Result<(), InitError> {
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(InitError::AlreadyStarted);
    }
    let argv: Vec<CString> = settings
        .argv
        .iter()
        .map(|arg| c_string(arg.as_bytes()))
        .collect();
    let executable = c_string(settings.executable.as_os_str().as_bytes());
    // SAFETY: called once, before any other Python API, from the thread that will run
    // __main__. Every PyConfig call gets the config initialised just above, which is
    // cleared exactly once, after the last use.
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
        let started = configure(&mut config, &argv, &executable)
            .and_then(|()| checked(ffi::Py_InitializeFromConfig(&config)));
        ffi::PyConfig_Clear(&mut config);
        started
    }
}

/// Sets `sys.argv` and `sys.executable` in `config`.
///
/// # Safety
/// `config` must have been initialised by `PyConfig_InitPythonConfig`.
unsafe fn configure(
    config: &mut ffi::PyConfig,
    argv: &[CString],
    executable: &CStr,
) -> Result<(), InitError> {
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: `config` is initialised (the caller's promise); `pointers` and `executable`
    // outlive the calls, which copy and decode the strings the way `python` decodes its own
    // argv (locale encoding, surrogateescape).
    unsafe {
        checked(ffi::PyConfig_SetBytesArgv(
            config,
            pointers.len() as ffi::Py_ssize_t,
            pointers.as_mut_ptr(),
        ))?;
        let field = &raw mut config.executable;
        checked(ffi::PyConfig_SetBytesString(
            config,
            field,
            executable.as_ptr(),
        ))
    }
}

/// A failed PyStatus as our error, with CPython's function name and message copied out.
fn checked(status: ffi::PyStatus) -> Result<(), InitError> {
    // SAFETY: `status` comes from a PyConfig or initialisation call; its strings, when set,
    // are static C strings.
    unsafe {
        if ffi::PyStatus_Exception(status) == 0 {
            return Ok(());
        }
        if ffi::PyStatus_IsExit(status) != 0 {
            return Err(InitError::Exit(status.exitcode));
        }
        let text = |pointer: *const libc::c_char| {
            if pointer.is_null() {
                String::new()
            } else {
                CStr::from_ptr(pointer).to_string_lossy().into_owned()
            }
        };
        Err(InitError::Config {
            function: text(status.func),
            message: text(status.err_msg),
        })
    }
}

/// Arguments and paths cannot contain NUL on Unix; cut at one rather than fail.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// The token of the thread `initialize` left attached.
pub(super) fn main_thread(_started: &Interpreter) -> Python<'_> {
    // SAFETY: an `Interpreter` exists only once `initialize` succeeded, and is not Send:
    // we are on the thread it left attached, which stays attached until `finalize`, which
    // consumes the interpreter (so the token cannot outlive it).
    unsafe { Python::assume_attached() }
}

/// `Py_FinalizeEx`: joins non-daemon threads, runs atexit handlers and flushes the standard
/// streams. False if that flush failed (python then exits with 120).
pub(super) fn finalize(_started: Interpreter) -> bool {
    // SAFETY: on the attached main thread (an `Interpreter` is not Send), once (it is
    // consumed); no token of it is left, so nothing touches Python afterwards.
    unsafe { ffi::Py_FinalizeEx() >= 0 }
}

/// Ends the process by SIGINT, as python does after an uncaught KeyboardInterrupt, so the
/// shell sees "killed by Ctrl-C" (status 130). Returns only if the signal is blocked.
pub fn die_by_sigint() {
    // SAFETY: restoring the default disposition and signalling ourselves have no memory
    // effects; Python is finalized, so its handler is not needed any more.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::kill(libc::getpid(), libc::SIGINT);
    }
}

/// Decodes bytes from the OS like Python does (`os.fsdecode`, surrogateescape).
pub(super) fn fs_decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: the pointer and length describe `bytes`, which outlives the call.
    unsafe {
        let decoded = ffi::PyUnicode_DecodeFSDefaultAndSize(
            bytes.as_ptr().cast(),
            bytes.len() as ffi::Py_ssize_t,
        );
        Bound::from_owned_ptr_or_err(py, decoded)
    }
}

/// Encodes a str for the OS (`os.fsencode`), for a C file name.
fn fs_encode(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<CString> {
    // SAFETY: `name` is a live object; the result is a new reference or an error.
    let encoded =
        unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyUnicode_EncodeFSDefault(name.as_ptr()))? };
    CString::new(encoded.cast_into::<PyBytes>()?.as_bytes().to_vec())
        .map_err(|_| pyo3::exceptions::PyValueError::new_err("embedded null byte"))
}

/// Compiles and runs `source` with python's own file reader, as `python script.py` does:
/// the coding cookie, a BOM, NUL bytes and non-UTF-8 bytes are handled, and reported, in
/// python's words (`SyntaxError: Non-UTF-8 code starting with '\\x89' in file ...`).
pub(super) fn run_file(
    py: Python<'_>,
    filename: &Bound<'_, PyAny>,
    source: &[u8],
    globals: &Bound<'_, PyDict>,
    locals: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let name = fs_encode(py, filename)?;
    let stream = memory_stream(source)?;
    // SAFETY: PyRun_FileExFlags takes the stream and closes it (closeit = 1); `globals` is a
    // dict and `locals` a mapping; the thread is attached.
    unsafe {
        let result = ffi::PyRun_FileExFlags(
            stream,
            name.as_ptr(),
            ffi::Py_file_input,
            globals.as_ptr(),
            locals.as_ptr(),
            1,
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, result).map(drop)
    }
}

/// A C stream reading `bytes` (the source we read, and watch). It has a real file
/// descriptor, which python's reader needs for a coding cookie (it reopens the descriptor
/// with `io.open`).
fn memory_stream(bytes: &[u8]) -> std::io::Result<*mut libc::FILE> {
    // SAFETY: creates a new anonymous file; no pointer outlives the call.
    let fd = unsafe { libc::memfd_create(c"jurigged-source".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and belongs to no one else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes)?;
    file.rewind()?;
    let fd = file.into_raw_fd();
    // SAFETY: on success the stream owns `fd`.
    let stream = unsafe { libc::fdopen(fd, c"rb".as_ptr()) };
    if stream.is_null() {
        let error = std::io::Error::last_os_error();
        // SAFETY: fdopen failed, so `fd` is still ours: owning it again closes it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
        return Err(error);
    }
    Ok(stream.cast())
}

/// Evaluates a code object in `globals` and `locals`. Evaluating from Rust adds no Python
/// frame, so tracebacks start at the program like python's.
pub(super) fn eval_code(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    globals: &Bound<'_, PyDict>,
    locals: &Bound<'_, PyAny>,
) -> PyResult<()> {
    if !code.is_instance_of::<pyo3::types::PyCode>() {
        return Err(pyo3::exceptions::PyTypeError::new_err("not a code object"));
    }
    // SAFETY: `code` is a code object (checked above), `globals` a dict, `locals` an
    // object; the thread is attached.
    unsafe {
        let result = ffi::PyEval_EvalCode(code.as_ptr(), globals.as_ptr(), locals.as_ptr());
        Bound::from_owned_ptr_or_err(py, result).map(drop)
    }
}

unsafe extern "C" {
    /// The C library's standard input, which CPython's REPL reads (with readline on a tty).
    static mut stdin: *mut libc::FILE;
    /// The running interpreter's configuration (CPython's internal API, also used by its
    /// own `main`).
    fn _Py_GetConfig() -> *const ffi::PyConfig;
}

/// CPython's read-eval-print loop on C's standard input, as `python` runs it. True if it
/// ended on an uncaught error. On `exit()` CPython finalizes and exits the process itself,
/// exactly as `python` does.
pub(super) fn repl_on_stdin(py: Python<'_>) -> bool {
    let mut flags = ffi::PyCompilerFlags {
        cf_flags: 0,
        cf_feature_version: py.version_info().minor as i32,
    };
    // SAFETY: the main thread is attached (`py`); `stdin` is the C library's stream, read
    // by value; the file name and flags outlive the call.
    unsafe { ffi::PyRun_AnyFileExFlags(stdin, c"<stdin>".as_ptr(), 0, &mut flags) != 0 }
}

/// Clears `inspect` so that `exit()` at the prompt ends the process (pymain_set_inspect).
pub(super) fn leave_inspect_mode(_py: Python<'_>) {
    // SAFETY: the interpreter is initialised and this thread attached (`_py`); python's
    // own main mutates its config the same way before its REPL.
    unsafe {
        let config = _Py_GetConfig() as *mut ffi::PyConfig;
        if !config.is_null() {
            (*config).inspect = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn arguments_are_cut_at_nul() {
        let arg = OsString::from("ab\0cd");
        assert_eq!(c_string(arg.as_bytes()).as_bytes(), b"ab");
    }
}
