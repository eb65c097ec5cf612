//! Hot restart, all of it: the built-in `hot_restart` module (hot-restart 0.2's API and
//! debugger flow, in Python: python/hot_restart.py) on jurigged's live patching,
//! `--restart PATTERN`, and what it plugs into the develoop (its debugger for the `d`
//! command, the wrapping of the main module's definitions as they are bound).
//!
//! The module is registered as a built-in (inittab) and executed on first import only, so
//! it costs nothing to programs that never import it.
//!
//! Hot restart depends on the develoop, not the reverse: the develoop offers two plugs
//! (`set_debugger`, `wrap_main_bindings`) and never names hot restart, just as the engine
//! never names its subscribers. Calls flow from the develoop into what was plugged in.
#![deny(unsafe_code)]

mod debugger;
mod main_module;

use jurigged_live::hooks::{self, Binder, Binding};
use pyo3::prelude::*;
use pyo3::types::PyList;

pub use main_module::matches_main;

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

/// Plugs hot restart into live patching (its rewrap of new definitions) and its debugger
/// into the develoop; with `--restart PATTERN` wraps the functions and classes of watched
/// modules whose name matches, as `hot_restart.wrap_modules` would: those loaded now, those
/// imported later (an import hook), and the main module as it defines them when a pattern
/// names it (`__main__`, or `main_name`: the script's name or the `-m` module).
pub fn install(py: Python<'_>, patterns: &[String], main_name: Option<&str>) -> PyResult<()> {
    hooks::set_binder(Rewrap);
    jurigged_develoop::set_debugger(debugger::post_mortem);
    if patterns.is_empty() {
        return Ok(());
    }
    let module = py.import("hot_restart")?;
    let wrapped = module.call_method1("_restart_modules", (PyList::new(py, patterns)?,));
    let mut names = vec!["__main__"];
    names.extend(main_name);
    if matches_main(patterns, &names) {
        main_module::wrap(py)?;
    }
    wrapped.map(drop)
}
