//! The engine's only calls into the C API: reading a function's fields without the audit
//! event their attributes raise, and `code.replace` by vectorcall. A module of 100,000
//! functions does each once per function, where the Python-level way costs more than the
//! work itself.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFunction, PyTuple};

/// A function's code; anything else than a plain function through its `__code__`.
pub fn code_of<'py>(function: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if function.is_instance_of::<PyFunction>() {
        // SAFETY: `function` is a function object (checked above), so PyFunction_GetCode
        // returns the borrowed code reference it holds, non-null for any function; the
        // function outlives the new `Bound`, which takes its own reference.
        let code = unsafe {
            let raw = ffi::PyFunction_GetCode(function.as_ptr());
            (!raw.is_null()).then(|| Bound::from_borrowed_ptr(function.py(), raw))
        };
        if let Some(code) = code {
            return Ok(code);
        }
    }
    function.getattr(intern!(function.py(), "__code__"))
}

/// A function's `__defaults__` and `__kwdefaults__` (None where unset), read as `code_of`.
pub fn defaults_of<'py>(
    function: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = function.py();
    if function.is_instance_of::<PyFunction>() {
        // SAFETY: `function` is a function object (checked above); both getters return a
        // borrowed reference it holds, or NULL for none. The new `Bound`s take their own
        // references while the function is still alive.
        return Ok(unsafe {
            let read = |raw: *mut ffi::PyObject| {
                if raw.is_null() {
                    py.None().into_bound(py)
                } else {
                    Bound::from_borrowed_ptr(py, raw)
                }
            };
            (
                read(ffi::PyFunction_GetDefaults(function.as_ptr())),
                read(ffi::PyFunction_GetKwDefaults(function.as_ptr())),
            )
        });
    }
    Ok((
        function.getattr(intern!(py, "__defaults__"))?,
        function.getattr(intern!(py, "__kwdefaults__"))?,
    ))
}

/// A function's own `__dict__`, if it has one: reading `__dict__` would make an empty one
/// for every function of a module. `function` must be a function object.
pub fn own_dict<'py>(function: &Bound<'py, PyFunction>) -> Option<Bound<'py, PyDict>> {
    // SAFETY: `function` is a function object, whose layout pyo3-ffi describes for the
    // Python it was built for; `func_dict` is only read, and is NULL or a borrowed
    // reference the function holds while the new `Bound` takes its own.
    let dict = unsafe {
        let raw = (*function.as_ptr().cast::<ffi::PyFunctionObject>()).func_dict;
        (!raw.is_null()).then(|| Bound::from_borrowed_ptr(function.py(), raw))
    };
    dict?.cast_into::<PyDict>().ok()
}

/// `code.replace(co_firstlineno=first_line)`, with `co_consts=constants` too when given,
/// without building a kwargs dict per call.
pub fn replace_lines<'py>(
    code: &Bound<'py, PyAny>,
    first_line: i64,
    constants: Option<&Bound<'py, PyTuple>>,
) -> PyResult<Bound<'py, PyAny>> {
    static FIRST_LINE: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    static FIRST_LINE_AND_CONSTANTS: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    let py = code.py();
    let first_line = first_line.into_pyobject(py)?;
    let mut arguments = vec![code.as_ptr(), first_line.as_ptr()];
    let names = match constants {
        Some(constants) => {
            arguments.push(constants.as_ptr());
            FIRST_LINE_AND_CONSTANTS.get_or_try_init(py, || {
                PyTuple::new(
                    py,
                    [intern!(py, "co_firstlineno"), intern!(py, "co_consts")],
                )
                .map(Bound::unbind)
            })?
        }
        None => FIRST_LINE.get_or_try_init(py, || {
            PyTuple::new(py, [intern!(py, "co_firstlineno")]).map(Bound::unbind)
        })?,
    };
    // SAFETY: `arguments` holds live references (self first, then one per keyword name in
    // `names`) that outlive the call; the result is a new reference, or NULL with an error
    // set, which `from_owned_ptr_or_err` takes.
    unsafe {
        let result = ffi::PyObject_VectorcallMethod(
            intern!(py, "replace").as_ptr(),
            arguments.as_ptr(),
            1,
            names.bind(py).as_ptr(),
        );
        Bound::from_owned_ptr_or_err(py, result)
    }
}
