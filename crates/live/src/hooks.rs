//! What the engine tells whoever listens: typed events, delivered synchronously under the
//! GIL, in the order the changes were applied. The engine knows nothing of its listeners
//! (a log on stderr, the develoop, a full-screen interface, a debugger); they subscribe
//! here. One binder may also decide what new definitions bind (`set_binder`).

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyModule, PyType};

/// One thing the engine did or could not do.
#[derive(Debug, Clone, Copy)]
pub enum PatchEvent<'a> {
    /// A file is watched from now on (`filename` as the interpreter names it).
    Watch { filename: &'a str },
    /// A function or class got new code; `line` is its first line in the new version.
    Update { name: &'a str, line: usize },
    /// A definition the save added.
    Add { name: &'a str, line: usize },
    /// A top-level or class-body statement re-run; `text` is its first line.
    Run {
        name: &'a str,
        line: usize,
        text: &'a str,
    },
    /// A definition the save removed.
    Delete { name: &'a str, line: usize },
    /// An error or a warning for the user (may span lines: a traceback).
    Problem { text: &'a str },
    /// A batch was applied whole. `done` names its operations; `changed_code` is false when
    /// the save only moved code (line numbers).
    Applied {
        done: &'a [String],
        changed_code: bool,
    },
    /// A save was not applied (a failed batch, a syntax error); one line for a status bar.
    NotApplied { summary: &'a str },
}

/// Whether later subscribers see the event too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The subscriber showed it itself (a full-screen interface owning the terminal).
    Handled,
}

type Subscriber = dyn Fn(Python<'_>, &PatchEvent<'_>) -> Flow + Send + Sync;

/// Identifies a subscription, to end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookId(u64);

struct Registry {
    next: u64,
    /// Newest last; called newest first, so a later front door can take over what an
    /// earlier one would show.
    subscribers: Vec<(HookId, Arc<Subscriber>)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    subscribers: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Calls `subscriber` for every event from now on, before the subscribers already there.
pub fn subscribe(
    subscriber: impl Fn(Python<'_>, &PatchEvent<'_>) -> Flow + Send + Sync + 'static,
) -> HookId {
    let mut registry = registry();
    registry.next += 1;
    let id = HookId(registry.next);
    registry.subscribers.push((id, Arc::new(subscriber)));
    id
}

/// Ends a subscription; an unknown id is ignored.
pub fn unsubscribe(id: HookId) {
    registry().subscribers.retain(|(each, _)| *each != id);
}

/// Delivers `event` to the subscribers, newest first, until one handles it.
pub fn emit(py: Python<'_>, event: &PatchEvent<'_>) {
    // Copied out: a subscriber may subscribe or unsubscribe while it runs.
    let subscribers: Vec<Arc<Subscriber>> = registry()
        .subscribers
        .iter()
        .rev()
        .map(|(_, subscriber)| Arc::clone(subscriber))
        .collect();
    for subscriber in subscribers {
        if subscriber(py, event) == Flow::Handled {
            break;
        }
    }
}

/// `emit` from a thread that may not hold the GIL; dropped when the interpreter is gone.
pub fn emit_attached(event: &PatchEvent<'_>) {
    Python::try_attach(|py| emit(py, event));
}

/// A definition a save adds (or rebuilds), about to be bound in its module or class.
pub struct Binding<'a, 'py> {
    /// The module it runs in: its globals.
    pub module: &'a Bound<'py, PyModule>,
    /// The class whose body it stands in, if any.
    pub class: Option<&'a Bound<'py, PyType>>,
    /// The name it binds.
    pub name: &'a str,
}

impl<'py> Binding<'_, 'py> {
    /// The namespace the name is bound in: the class, or else the module.
    pub fn holder(&self) -> &Bound<'py, PyAny> {
        match self.class {
            Some(class) => class.as_any(),
            None => self.module.as_any(),
        }
    }
}

/// Decides what a new definition binds: a wrapper applied from outside (a debugger that
/// wraps every function of the modules and classes it watches) applies to what a save adds.
/// Called inside the batch's transaction: what it binds is undone with a failed batch.
pub trait Binder: Send + Sync {
    /// Whether this definition goes through `bind`; cheap, asked for every new definition.
    fn binds(&self, binding: &Binding<'_, '_>) -> bool;

    /// What to bind under `binding.name` instead of `value`.
    fn bind<'py>(
        &self,
        binding: &Binding<'_, 'py>,
        value: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>>;
}

static BINDER: Mutex<Option<Arc<dyn Binder>>> = Mutex::new(None);

/// Passes every new definition through `binder` from now on (replacing any other).
pub fn set_binder(binder: impl Binder + 'static) {
    *BINDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(binder));
}

/// New definitions are bound as they are from now on.
pub fn clear_binder() {
    *BINDER.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The binder now, if any.
pub(crate) fn binder() -> Option<Arc<dyn Binder>> {
    BINDER.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
