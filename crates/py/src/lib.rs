//! `jurigged._jurigged`: the engine as an extension module, for the Python package
//! (`pip install jurigged-rs`). It links no libpython, so it loads into any CPython of its
//! version, shared or static; the `jurigged` package (python/jurigged) re-exports it.
#![deny(unsafe_code)]

use pyo3::prelude::*;

#[pymodule]
fn _jurigged(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
