//! The develoop: `--loop` / `--xloop` and `@__.loop` re-run one function on every save.
//!
//! `runner` is the engine (runs, aborts, commands) and records each run as data;
//! interfaces render it (`basic`, and the rich `tui`, through the same trait); `capture`
//! takes a run's output at the file-descriptor level; `api` is the Python side (the
//! `jurigged` module) and `looped` its callables; `targets` finds what `--loop NAME` names
//! and routes every call of it into the loop; `extensions` is what other crates plug in
//! (hot restart: its debugger, its wrapping).
//!
//! `unsafe` (system calls and CPython's C API) lives only in `capture`, `unix`,
//! `tui::terminal`, `runner::current` and `runner::sleep`; each opts out of the deny below.

#![deny(unsafe_code)]

mod api;
mod basic;
mod capture;
mod drive;
mod extensions;
mod format;
mod looped;
mod output;
mod runner;
mod targets;
pub mod tui;
mod unix;

use pyo3::prelude::*;
use pyo3::types::PyDict;

pub use extensions::{Debugger, MainBinding, set_debugger, wrap_main_bindings};
pub use targets::{LoopName, LoopNameError, LoopNameProblem, MainSource};

use jurigged_live::hooks::{self, Flow, PatchEvent};

/// Follows the engine: a loop runs again once code changed (a full-screen interface
/// follows it too, while it lives: see `tui`).
fn follow_patches() {
    hooks::subscribe(|py, event| {
        if let PatchEvent::Applied {
            changed_code: true, ..
        } = event
        {
            runner::patch_applied(py);
        }
        Flow::Continue
    });
}

/// Puts `jurigged` and `jurigged.loop` in `sys.modules` (and `__` in builtins with
/// `--dev`), and follows the engine's patches. `default_interface` is `--loop-interface`.
pub fn install(py: Python<'_>, dev: bool, default_interface: &str) -> PyResult<()> {
    follow_patches();
    api::install(py, dev, default_interface)
}

/// Sets up `--loop` names before the program runs; an error is one line for the user,
/// without the `jurigged: ` its caller puts before every such line.
pub fn prepare_loops(
    py: Python<'_>,
    names: &[LoopName],
    main: Option<MainSource>,
) -> Result<(), LoopNameError> {
    targets::prepare(py, names, main)
}

/// Whether the main module's top-level code needs our namespace: `--loop` names still
/// wait to be defined, or a plugged-in wrapper (hot restart's) wraps what it defines.
pub fn main_loops_pending() -> bool {
    targets::main_names_pending() || extensions::wraps_main_bindings()
}

/// The namespace the main module's top-level code runs with while names are pending.
pub fn main_namespace<'py>(
    py: Python<'py>,
    globals: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, targets::MainNamespace::new(globals.clone().unbind()))?.into_any())
}
