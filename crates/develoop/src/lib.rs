//! The develoop: `--loop` / `--xloop` and `@__.loop` re-run one function on every save.
//!
//! `runner` is the engine (runs, aborts, commands) and records each run as data;
//! interfaces render it (`basic` today; the rich TUI plugs into the same trait); `capture`
//! takes a run's output at the file-descriptor level; `api` is the Python side;
//! `targets` finds what `--loop NAME` names and routes every call of it into the loop;
//! `extensions` is what other crates plug in (hot restart: its debugger, its wrapping).

mod api;
mod basic;
mod capture;
mod drive;
mod extensions;
mod format;
mod output;
mod runner;
mod targets;
pub mod tui;

use pyo3::prelude::*;
use pyo3::types::PyDict;

pub use extensions::{Debugger, MainBinding, set_debugger, wrap_main_bindings};
pub use targets::{LoopName, MainSource};

use jurigged_live::hooks::{self, Flow, PatchEvent};
use jurigged_live::log::{Style, describe};

/// Follows the engine: a loop waiting for a fix runs again once code changed, and a
/// full-screen interface shows the log on its status line instead of letting it scribble
/// over the screen.
fn follow_patches() {
    hooks::subscribe(|py, event| match *event {
        PatchEvent::Applied { done, changed_code } => {
            if changed_code {
                runner::patch_applied(py);
            }
            if !done.is_empty() {
                tui::report_patch(&done.join(", "), false);
            }
            Flow::Continue
        }
        PatchEvent::NotApplied { summary } => {
            tui::report_patch(summary, true);
            Flow::Continue
        }
        _ if tui::is_active() => {
            if let Some((style, text)) = describe(event) {
                tui::report_patch(&text, style == Style::Red);
            }
            Flow::Handled
        }
        _ => Flow::Continue,
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
) -> Result<(), String> {
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
