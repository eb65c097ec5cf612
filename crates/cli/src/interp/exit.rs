//! How the process ends: the status an exception escaping the program gives, printed the
//! way `PyErr_Print` prints it.

use std::collections::HashSet;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;

use jurigged_live::python::flush_std_streams;

use crate::failure::{Failure, say};

/// How the process should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    /// An uncaught KeyboardInterrupt ends the process by SIGINT, as python does, so the
    /// shell sees "killed by Ctrl-C" (status 130).
    pub keyboard_interrupt: bool,
}

impl Exit {
    pub const OK: Exit = Exit {
        code: 0,
        keyboard_interrupt: false,
    };

    pub fn code(code: i32) -> Exit {
        Exit {
            code,
            keyboard_interrupt: false,
        }
    }
}

/// Why the program did not run to its end.
pub(super) enum Stopped {
    /// An exception escaped it (SystemExit included).
    Raised(PyErr),
    /// jurigged could not run it, or refused to.
    Failed(Failure),
}

impl From<PyErr> for Stopped {
    fn from(err: PyErr) -> Stopped {
        Stopped::Raised(err)
    }
}

impl From<Failure> for Stopped {
    fn from(failure: Failure) -> Stopped {
        Stopped::Failed(failure)
    }
}

/// How running the program ended.
pub(super) type Ran = Result<Exit, Stopped>;

/// Reports an exception that escaped the program, like `PyErr_Print`: SystemExit gives its
/// status, anything else prints its traceback through `sys.excepthook` and gives 1. With
/// `-i` the interpreter runs in inspect mode, so SystemExit is printed like any error.
pub(super) fn report_uncaught(py: Python<'_>, err: PyErr, interactive: bool) -> Exit {
    if err.is_instance_of::<PySystemExit>(py) && !interactive {
        return Exit::code(system_exit_status(py, err.value(py)));
    }
    let keyboard_interrupt = err.is_instance_of::<PyKeyboardInterrupt>(py);
    print_exception(py, err);
    Exit {
        code: 1,
        keyboard_interrupt,
    }
}

/// Prints an exception through `sys.excepthook` and records it in `sys.last_value`.
pub(super) fn print_exception(py: Python<'_>, err: PyErr) {
    let value = err.into_value(py).into_bound(py).into_any();
    if let Err(error) = drop_own_frames(&value, &mut HashSet::new()) {
        error.print(py);
    }
    PyErr::from_value(value).print_and_set_sys_last_vars(py);
    flush_std_streams(py);
}

/// Takes jurigged's own frames (`<jurigged: …>` code: hot restart's wrappers, calls
/// forwarded to rebuilt functions) out of an exception's traceback and those of its
/// causes and contexts: an uncaught error shows the program's frames only.
fn drop_own_frames<'py>(error: &Bound<'py, PyAny>, seen: &mut HashSet<usize>) -> PyResult<()> {
    if error.is_none() || !seen.insert(error.as_ptr() as usize) {
        return Ok(());
    }
    let is_own = |entry: &Bound<'py, PyAny>| -> PyResult<bool> {
        let filename = entry
            .getattr("tb_frame")?
            .getattr("f_code")?
            .getattr("co_filename")?;
        Ok(filename.extract::<String>()?.starts_with("<jurigged: "))
    };
    let skip = |mut entry: Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
        while !entry.is_none() && is_own(&entry)? {
            entry = entry.getattr("tb_next")?;
        }
        Ok(entry)
    };
    let head = skip(error.getattr("__traceback__")?)?;
    error.setattr("__traceback__", &head)?;
    let mut entry = head;
    while !entry.is_none() {
        let next = skip(entry.getattr("tb_next")?)?;
        entry.setattr("tb_next", &next)?;
        entry = next;
    }
    drop_own_frames(&error.getattr("__cause__")?, seen)?;
    drop_own_frames(&error.getattr("__context__")?, seen)
}

/// The exit status of a SystemExit, as `_Py_HandleSystemExit` computes it: `None` is 0, an
/// int is itself, anything else is printed to stderr and gives 1.
fn system_exit_status(py: Python<'_>, value: &Bound<'_, PyAny>) -> i32 {
    let code = value.getattr("code").unwrap_or_else(|_| value.clone());
    if code.is_none() {
        return 0;
    }
    if code.is_instance_of::<pyo3::types::PyInt>() {
        // C's (int)PyLong_AsLong: wraps like python does for huge values.
        return code.extract::<i64>().map(|c| c as i32).unwrap_or(-1);
    }
    let written = py.import("sys").and_then(|sys| {
        let stderr = sys.getattr("stderr")?;
        if stderr.is_none() {
            say(&code);
            return Ok(());
        }
        stderr.call_method1("write", (code.str()?,))?;
        stderr.call_method1("write", ("\n",))?;
        Ok(())
    });
    if let Err(err) = written {
        err.print(py);
    }
    1
}
