//! Hot restart: the built-in `hot_restart` module (hot-restart 0.2's API and debugger
//! flow, in Python: assets/python/hot_restart.py) on jurigged's live patching, and
//! `--restart PATTERN`.
//!
//! The module is registered as a built-in (inittab) and executed on first import only, so
//! it costs nothing to programs that never import it.

use jurigged_live::hooks::{self, Binder, Binding};
use pyo3::prelude::*;
use pyo3::types::PyList;

const SOURCE: &str = include_str!("../python/hot_restart.py");

/// Executes the module's source into the new module (called by `import hot_restart`).
#[pymodule(name = "hot_restart")]
fn hot_restart_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let code = py.import("builtins")?.getattr("compile")?.call1((
        SOURCE,
        "<jurigged: hot_restart.py>",
        "exec",
    ))?;
    module.setattr("__file__", "<jurigged: hot_restart.py>")?;
    py.import("builtins")?
        .getattr("exec")?
        .call1((code, module.dict()))?;
    Ok(())
}

/// Registers `hot_restart` as a built-in module; call before the interpreter starts.
pub fn register() {
    pyo3::append_to_inittab!(hot_restart_module);
}

/// New definitions a save adds to a module or class hot restart wraps are wrapped before
/// they are bound, inside the engine's transaction: no other thread ever calls them
/// unwrapped, and a failed batch undoes the wrapping with the rest.
struct Rewrap;

impl Binder for Rewrap {
    fn binds(&self, binding: &Binding<'_, '_>) -> bool {
        // Set by wrap_module, wrap_class and --restart on what they wrap; a missing marker
        // (the usual case) is just false.
        binding
            .holder()
            .getattr("__hot_restart_wrapped__")
            .and_then(|marker| marker.is_truthy())
            .unwrap_or(false)
    }

    fn bind<'py>(
        &self,
        binding: &Binding<'_, 'py>,
        value: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = value.py();
        py.import("hot_restart")?.call_method1(
            "_rewrapped",
            (
                binding.holder(),
                binding.name,
                binding.module.name()?,
                value,
            ),
        )
    }
}

/// Hooks hot restart into live patching; with `--restart PATTERN`, also wraps the
/// functions and classes of watched modules whose name matches, as
/// `hot_restart.wrap_modules` would: those loaded now and those imported later (an import
/// hook).
pub fn install(py: Python<'_>, patterns: &[String]) -> PyResult<()> {
    hooks::set_binder(Rewrap);
    if patterns.is_empty() {
        return Ok(());
    }
    let module = py.import("hot_restart")?;
    module.call_method1("_restart_modules", (PyList::new(py, patterns)?,))?;
    Ok(())
}

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
