//! Looped functions that are `async def` or generators: a call only makes a coroutine or
//! a generator, so a run awaits it (in an event loop of its own) or drives it to its end,
//! giving each yielded item as `yield[N]` as it comes. The caller, on continue, gets an
//! awaitable of the result or a generator replaying the items. The driving itself is
//! Python (assets/python/develoop_drive.py); its frames never show in a traceback.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

const SOURCE: &str = include_str!("../python/develoop_drive.py");
const NAME: &str = "_jurigged_develoop_drive";

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    let module = MODULE.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        let source = std::ffi::CString::new(SOURCE)?;
        let filename = std::ffi::CString::new(format!("<jurigged: {NAME}.py>"))?;
        let name = std::ffi::CString::new(NAME)?;
        Ok(PyModule::from_code(py, &source, &filename, &name)?.unbind())
    })?;
    Ok(module.bind(py))
}

/// A run's value once awaited or driven.
pub struct Driven {
    /// What was done, for the interface: `awaited`, `generator: 3 items yielded`...
    pub kind: Option<String>,
    /// What the run shows as its result (the awaited value, the list of items).
    pub shown: Py<PyAny>,
    /// Makes what the caller gets on continue (an awaitable, a generator), when it does.
    pub for_caller: Py<PyAny>,
}

/// Whether calls of `function` return a coroutine or a generator to drive.
pub fn needs_driving(py: Python<'_>, function: &Bound<'_, PyAny>) -> bool {
    module(py)
        .and_then(|module| {
            module
                .call_method1("needs_driving", (function,))?
                .is_truthy()
        })
        .unwrap_or(false)
}

/// What the caller of a driven function gets from `Driven::for_caller`.
pub fn hand_back(py: Python<'_>, for_caller: Py<PyAny>) -> PyResult<Py<PyAny>> {
    Ok(for_caller.bind(py).call0()?.unbind())
}

/// Awaits or drives what a call returned; its error (with the program's frames only) if
/// that raised.
pub fn drive(py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<Driven> {
    let give = py.import("jurigged.loop")?.getattr("give")?;
    let outcome = module(py)?.call_method1("drive", (value, give))?;
    let (kind, shown, for_caller, error): (
        Option<String>,
        Bound<'_, PyAny>,
        Bound<'_, PyAny>,
        Bound<'_, PyAny>,
    ) = outcome.extract()?;
    if !error.is_none() {
        return Err(PyErr::from_value(error));
    }
    Ok(Driven {
        kind,
        shown: shown.unbind(),
        for_caller: for_caller.unbind(),
    })
}
