//! Tracebacks, pdb and `inspect` quote the source that is running, not whatever the file
//! holds later: the batch puts that source into `linecache` itself.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Makes `linecache` hold `source` for `filename`.
pub fn refresh(py: Python<'_>, filename: &str, source: &str) {
    // A failed refresh only costs stale lines in a traceback: never worth failing a batch.
    let _ = try_refresh(py, filename, source);
}

fn try_refresh(py: Python<'_>, filename: &str, source: &str) -> PyResult<()> {
    // Not loaded: nothing is cached, and importing it here would give up the GIL at every
    // file it reads, each time waiting for it again.
    let modules = py.import("sys")?.getattr("modules")?;
    let Some(linecache) = modules.cast::<PyDict>()?.get_item("linecache")? else {
        return Ok(());
    };
    // Split at newlines only, as the file reads (str.splitlines also splits at form feeds);
    // the list is made at its size at once: a 10 MB module has half a million lines.
    let lines = PyList::new(py, source.split_inclusive('\n'))?;
    let entry = (source.len(), py.None(), lines, filename);
    linecache
        .getattr(intern!(py, "cache"))?
        .set_item(filename, entry)
}
