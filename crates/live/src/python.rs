//! What every front door needs from the interpreter, embedded or not: a traceback as
//! python prints it, the standard streams flushed, the process ended from any thread.

#![allow(unsafe_code)]

use pyo3::prelude::*;

/// An exception's traceback as `traceback.format_exception` writes it. Code run from Rust
/// has no frame of ours, so it holds the program's frames only.
pub fn format_traceback(py: Python<'_>, error: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|traceback| {
        let lines = traceback.call_method1(
            "format_exception",
            (error.get_type(py), error.value(py), error.traceback(py)),
        )?;
        let mut text = String::new();
        for line in lines.try_iter()? {
            text.push_str(&line?.extract::<String>()?);
        }
        Ok::<_, PyErr>(text)
    });
    formatted.unwrap_or_else(|_| error.to_string())
}

/// Flushes sys.stdout and sys.stderr, ignoring errors, as python does after a run.
pub fn flush_std_streams(py: Python<'_>) {
    if let Ok(sys) = py.import("sys") {
        for name in ["stdout", "stderr"] {
            // A failed flush is ignored, as python does; pyo3 took its error.
            if let Ok(stream) = sys.getattr(name)
                && !stream.is_none()
            {
                let _ = stream.call_method0("flush");
            }
        }
    }
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
    // SAFETY: ends the process at once, without running C atexit handlers under other
    // threads still using the interpreter; nothing is left to clean up.
    unsafe { libc::_exit(code) }
}
