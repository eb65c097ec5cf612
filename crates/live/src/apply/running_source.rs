//! Frames still running code that a save replaced quote the source that code came from, in
//! tracebacks, pdb and `inspect` (crates/live/python/running_source.py does the lookups).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyModule};

use crate::hooks::{self, PatchEvent};

const SOURCE: &str = include_str!("../../python/running_source.py");
const NAME: &str = "_jurigged_running_source";

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Before a save of `filename` is applied: every frame on a stack running code from that
/// file keeps the lines of `previous_source`, the version its code was compiled from (a
/// code object already remembered keeps its own, older version).
pub fn remember_running(py: Python<'_>, filename: &str, previous_source: &str) {
    let result = (|| -> PyResult<()> {
        let codes = running_codes(py, filename)?;
        if codes.is_empty() {
            return Ok(());
        }
        let module = module(py)?;
        let lines = PyList::empty(py);
        for line in previous_source.split_inclusive('\n') {
            lines.append(line)?;
        }
        for code in codes {
            module.call_method1("remember", (code, &lines))?;
        }
        Ok(())
    })();
    if let Err(err) = result {
        // Only tracebacks of running frames are at stake: say so, never stop the save.
        hooks::emit(
            py,
            &PatchEvent::Problem {
                text: &format!(
                    "jurigged: tracebacks may quote new lines for code still running: {err}"
                ),
            },
        );
    }
}

/// The distinct code objects from `filename` that frames on any thread's stack run.
fn running_codes<'py>(py: Python<'py>, filename: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let mut codes: Vec<Bound<'py, PyAny>> = Vec::new();
    let frames = py.import("sys")?.call_method0("_current_frames")?;
    for frame in frames.call_method0("values")?.try_iter()? {
        let mut frame = frame?;
        while !frame.is_none() {
            let code = frame.getattr("f_code")?;
            if code.getattr("co_filename")?.extract::<&str>().ok() == Some(filename)
                && !codes.iter().any(|known| known.is(&code))
            {
                codes.push(code);
            }
            frame = frame.getattr("f_back")?;
        }
    }
    Ok(codes)
}

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    let module = MODULE.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        let source = std::ffi::CString::new(SOURCE)?;
        let filename = std::ffi::CString::new(format!("<jurigged: {NAME}.py>"))?;
        let name = std::ffi::CString::new(NAME)?;
        Ok(PyModule::from_code(py, &source, &filename, &name)?.unbind())
    })?;
    Ok(module.bind(py))
}
