//! Shifting line numbers: a function that only moved keeps its code, renumbered, so that
//! tracebacks and breakpoints point at the lines it now stands on.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyTuple};

use super::capi::replace_lines;

/// A code object with every line number moved.
pub struct Shifted<'py> {
    pub code: Bound<'py, PyAny>,
    /// It holds nested code (closures made from it may need the new one).
    pub nested: bool,
}

/// `code` with every line number moved by `delta`, nested code objects included.
pub fn shift_lines<'py>(code: &Bound<'py, PyAny>, delta: i64) -> PyResult<Shifted<'py>> {
    let py = code.py();
    let constants = code
        .getattr(intern!(py, "co_consts"))?
        .cast_into::<PyTuple>()?;
    // Most functions have no nested code: their constants stay as they are.
    let shifted_constants = if constants.iter().any(|c| c.is_instance_of::<PyCode>()) {
        let mut shifted = Vec::with_capacity(constants.len());
        for constant in constants.iter() {
            if constant.is_instance_of::<PyCode>() {
                shifted.push(shift_lines(&constant, delta)?.code);
            } else {
                shifted.push(constant);
            }
        }
        Some(PyTuple::new(py, shifted)?)
    } else {
        None
    };
    let first: i64 = code.getattr(intern!(py, "co_firstlineno"))?.extract()?;
    Ok(Shifted {
        code: replace_lines(code, first + delta, shifted_constants.as_ref())?,
        nested: shifted_constants.is_some(),
    })
}
