//! An interpreter inside the test binary, started once for all the tests of a binary.

use std::sync::Once;

/// Starts the embedded interpreter (the libpython the crate was built against), once.
pub fn start_python() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        pyo3::Python::initialize();
        // The interpreter found its standard library from the prefix it was built with,
        // not from this test binary's path: prove it before any test relies on it.
        pyo3::Python::attach(|py| {
            py.import("encodings")
                .and_then(|_| py.import("importlib"))
                .expect("the embedded interpreter finds its standard library");
        });
    });
}
