//! hot_restart's debugger for the develoop's `d` command.

use pyo3::prelude::*;

/// Opens hot_restart's debugger (pdb, or the one `hot_restart.DEBUGGER` names) on a run's
/// error, on the real terminal.
pub(crate) fn post_mortem(py: Python<'_>, error: &PyErr) {
    let value = error.value(py);
    let shown = error
        .traceback(py)
        .map_or(Ok(()), |traceback| {
            value.setattr("__traceback__", traceback)
        })
        .and_then(|()| py.import("hot_restart"))
        .and_then(|module| module.call_method1("post_mortem", (value,)));
    if let Err(failure) = shown {
        failure.print(py);
    }
}
