//! `--restart` on the main module: its definitions are wrapped as its top-level code binds
//! them (wrapping afterwards would miss the functions it calls while it runs), and the
//! ones later saves add too.

use pyo3::prelude::*;

/// Whether `--restart` patterns name the main module (`__main__`, or the script's name).
pub fn matches_main(patterns: &[String], names: &[&str]) -> bool {
    patterns.iter().any(|pattern| {
        names.iter().any(|name| {
            globset::Glob::new(pattern)
                .map(|glob| glob.compile_matcher().is_match(name))
                .unwrap_or(false)
        })
    })
}

/// Wraps what the main module defines from now on.
pub(crate) fn wrap(py: Python<'_>) -> PyResult<()> {
    jurigged_develoop::wrap_main_bindings(wrap_binding);
    // The marker the rewrap of definitions a save adds looks for.
    py.import("__main__")?
        .setattr("__hot_restart_wrapped__", true)
}

/// What the main module binds for a value its top-level code defines.
fn wrap_binding<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    py.import("hot_restart")?
        .call_method1("_wrap_value", ("__main__", &value))
}

#[cfg(test)]
mod tests {
    use super::matches_main;

    #[test]
    fn main_module_patterns() {
        let patterns = ["app*".to_string()];
        assert!(matches_main(&patterns, &["__main__", "app"]));
        assert!(!matches_main(&patterns, &["__main__", "tool"]));
        assert!(matches_main(&["__main__".to_string()], &["__main__", "x"]));
    }
}
