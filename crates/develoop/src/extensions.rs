//! What another crate plugs into the develoop without the develoop knowing it: the debugger
//! the `d` command opens on a run's error, and a wrapper for each value the main module's
//! top-level code binds. Hot restart plugs in both (`jurigged_restart::install`).

use std::sync::Mutex;

use pyo3::prelude::*;

/// Opens a debugger on a run's error, on the real terminal, and returns when it is left.
pub type Debugger = fn(Python<'_>, &PyErr);

/// What the main module binds instead of a value its top-level code defines.
pub type MainBinding = for<'py> fn(Python<'py>, Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>>;

static DEBUGGER: Mutex<Option<Debugger>> = Mutex::new(None);
static MAIN_BINDING: Mutex<Option<MainBinding>> = Mutex::new(None);

/// The debugger of the `d` command (replaces the one set before).
pub fn set_debugger(debugger: Debugger) {
    *DEBUGGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(debugger);
}

/// Wraps each value the main module's top-level code binds from now on (replaces the
/// wrapper set before). Call before the program runs.
pub fn wrap_main_bindings(wrap: MainBinding) {
    *MAIN_BINDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(wrap);
}

/// The `d` command: the plugged-in debugger, or, without one, the error printed again.
pub(crate) fn post_mortem(py: Python<'_>, error: &PyErr) {
    let debugger = *DEBUGGER.lock().unwrap_or_else(|e| e.into_inner());
    match debugger {
        Some(debugger) => debugger(py, error),
        None => error.print(py),
    }
}

pub(crate) fn wraps_main_bindings() -> bool {
    MAIN_BINDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// What the main module binds for `value`: the plugged-in wrapper's result, or `value`.
pub(crate) fn wrap_main_binding<'py>(
    py: Python<'py>,
    value: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let wrap = *MAIN_BINDING.lock().unwrap_or_else(|e| e.into_inner());
    match wrap {
        Some(wrap) => wrap(py, value),
        None => Ok(value),
    }
}
