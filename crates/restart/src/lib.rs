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

/// Plugs hot restart's debugger into the develoop, and with `--restart PATTERN` wraps the
/// functions and classes of watched modules whose name matches, as
/// `hot_restart.wrap_modules` would: those loaded now, those imported later (an import
/// hook), and the main module as it defines them when a pattern names it (`__main__`, or
/// `main_name`: the script's name or the `-m` module).
pub fn install(py: Python<'_>, patterns: &[String], main_name: Option<&str>) -> PyResult<()> {
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
