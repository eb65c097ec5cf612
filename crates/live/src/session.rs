//! The live-patching session: the watched files, the retry list, the held saves, the apply
//! lock and the watcher thread, in one value. One runs per process at a time; it can be
//! stopped (its thread joined) and another started. The audit hook and the public functions
//! reach it through `current()`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use pyo3::wrap_pyfunction;

use crate::filter::{PatternError, WatchFilter};
use crate::held::Held;
use crate::log::Logger;
use crate::watch::{FileWatcher, Mode, Stamp};

/// Live patching options from the command line.
pub struct Settings<'a> {
    pub watch: &'a [String],
    /// `-d`: the quiet period to wait for; `None` for the default.
    pub debounce: Option<f64>,
    pub poll: Option<f64>,
    /// `-v`: the log shows what is patched (`Update`, `Run`...), not only the errors.
    pub verbose: bool,
}

/// Why live patching could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no current directory: {0}")]
    NoCurrentDirectory(#[source] std::io::Error),
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("cannot start watching files: {0}")]
    WatcherThread(#[source] std::io::Error),
    #[error("live patching is already running")]
    AlreadyStarted,
    /// Importing `threading` or registering the stop at exit failed.
    #[error("{0}")]
    Python(#[from] PyErr),
}

/// Why `jurigged.watch(pattern)` could not add its patterns.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("no current directory: {0}")]
    NoCurrentDirectory(#[source] std::io::Error),
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

/// A watched file and the version of it that is running.
pub(crate) struct Watched {
    /// The name the interpreter uses for it (`co_filename`, `__file__`).
    pub(crate) code_filename: String,
    /// The running version; `None` if it cannot be decoded (such files are not patched).
    pub(crate) source: Option<Arc<str>>,
    /// The version the module was loaded from (a running top-level statement's lines),
    /// kept from the first change on.
    pub(crate) loaded_source: Option<Arc<str>>,
    /// Running top-level statements changed since they started: (as loaded, now).
    pub(crate) running_aliases: Vec<(Vec<String>, Vec<String>)>,
    pub(crate) is_main: bool,
}

pub(crate) struct Session {
    filter: WatchFilter,
    /// Patterns the program added by calling `jurigged.watch(pattern)`.
    added: Mutex<Vec<WatchFilter>>,
    /// The directories the default filter skips (installed code), for those patterns.
    installed: Vec<PathBuf>,
    pub(crate) log: Logger,
    pub(crate) files: Mutex<HashMap<PathBuf, Watched>>,
    pub(crate) watcher: Mutex<Option<FileWatcher>>,
    /// Files of a batch that failed: tried again with the next batch, so that the next good
    /// save applies everything.
    pub(crate) retry: Mutex<Vec<PathBuf>>,
    /// Saves that would delete most of a module, held until they prove stable.
    pub(crate) held: Mutex<HashMap<PathBuf, Held>>,
    /// Every code file name `register` was asked about, watched or not.
    pub(crate) seen: Mutex<HashSet<String>>,
    /// The saves reported as not parsing (a hash of the text, by file): the watcher and
    /// hot restart's `c` may both read one, and it is reported once.
    pub(crate) reported_syntax_errors: Mutex<HashMap<String, u64>>,
    /// Serialises applying: the watcher thread and `apply_saved_changes` must never plan
    /// against the same running version at once.
    pub(crate) applying: Mutex<()>,
    /// `-v`, or the program calling `jurigged.watch()` with jurigged's default logger: the
    /// operation lines are shown, not only the errors.
    operations_shown: AtomicBool,
    /// Our process: a child made by `os.fork()` has no watcher thread and patches nothing.
    pid: u32,
}

/// The session running, if any. The one place that outlives sessions, with the audit hook
/// (which CPython cannot remove) and the stop at exit.
static CURRENT: Mutex<Option<Arc<Session>>> = Mutex::new(None);

/// Whether the stop at exit is registered: once per process, for every session.
static STOP_AT_EXIT: AtomicBool = AtomicBool::new(false);

/// A poisoned lock only means a panic elsewhere; the data stays usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running session, unless this is a forked child of the process that started it.
pub(crate) fn current() -> Option<Arc<Session>> {
    lock(&CURRENT)
        .as_ref()
        .filter(|session| session.pid == std::process::id())
        .cloned()
}

/// Starts watching: call on the main thread, before the program runs.
pub fn start(py: Python<'_>, settings: &Settings) -> Result<(), StartError> {
    if current().is_some() {
        return Err(StartError::AlreadyStarted);
    }
    let cwd = std::env::current_dir().map_err(StartError::NoCurrentDirectory)?;
    let installed = installed_directories(py).unwrap_or_default();
    let filter = WatchFilter::new(settings.watch, &cwd, installed.clone())?;
    // threading must learn its main thread here, not on our watcher thread later.
    py.import("threading")?;
    register_stop_at_exit(py)?;
    let mode = match settings.poll {
        Some(seconds) if seconds > 0.0 => Mode::Poll(Duration::from_secs_f64(seconds)),
        _ => Mode::Native,
    };
    let debounce = settings.debounce.map(Duration::from_secs_f64);
    let session = Arc::new(Session {
        filter,
        added: Mutex::new(Vec::new()),
        installed,
        log: Logger,
        files: Mutex::new(HashMap::new()),
        watcher: Mutex::new(None),
        retry: Mutex::new(Vec::new()),
        held: Mutex::new(HashMap::new()),
        seen: Mutex::new(HashSet::new()),
        reported_syntax_errors: Mutex::new(HashMap::new()),
        applying: Mutex::new(()),
        operations_shown: AtomicBool::new(settings.verbose),
        pid: std::process::id(),
    });
    // Weak: the thread must not keep its session alive; stopping joins it anyway.
    let for_thread: Weak<Session> = Arc::downgrade(&session);
    let mut watcher = FileWatcher::spawn(mode, debounce, move |batch| {
        if let Some(session) = for_thread.upgrade() {
            crate::plan::on_batch(&session, batch);
        }
    })
    .map_err(StartError::WatcherThread)?;
    {
        let mut slot = lock(&CURRENT);
        if slot
            .as_ref()
            .is_some_and(|running| running.pid == std::process::id())
        {
            // Another thread started one meanwhile.
            drop(slot);
            py.detach(|| watcher.stop());
            return Err(StartError::AlreadyStarted);
        }
        *lock(&session.watcher) = Some(watcher);
        *slot = Some(Arc::clone(&session));
    }
    register_loaded_modules(py);
    crate::audit_hook::install();
    Ok(())
}

/// Stops the running session: its watcher thread finishes the batch it is applying and is
/// joined; saves are not applied any more, and another session may start. False when none
/// was running (or another thread is stopping it).
pub fn stop(py: Python<'_>) -> bool {
    let Some(session) = current() else {
        return false;
    };
    // Whoever takes the watcher stops it; the session stays current until its thread is
    // joined, so that no other starts meanwhile and its last batch still logs as it should.
    let Some(mut watcher) = lock(&session.watcher).take() else {
        return false;
    };
    py.detach(|| watcher.stop());
    let mut slot = lock(&CURRENT);
    if slot
        .as_ref()
        .is_some_and(|running| Arc::ptr_eq(running, &session))
    {
        *slot = None;
    }
    true
}

/// Registered first, so it runs last at exit: after non-daemon threads were joined
/// (patches still apply while they run), before the interpreter goes away.
fn register_stop_at_exit(py: Python<'_>) -> PyResult<()> {
    if STOP_AT_EXIT.load(Ordering::SeqCst) {
        return Ok(());
    }
    let stop = wrap_pyfunction!(stop_watching, py)?;
    py.import("atexit")?.call_method1("register", (stop,))?;
    STOP_AT_EXIT.store(true, Ordering::SeqCst);
    Ok(())
}

/// Called by atexit: stops the watcher thread, letting a batch in progress finish.
#[pyfunction]
fn stop_watching(py: Python<'_>) {
    stop(py);
}

/// Registers the `.py` files of the modules loaded now.
pub(crate) fn register_loaded_modules(py: Python<'_>) {
    let Ok(modules) = py
        .import("sys")
        .and_then(|sys| sys.getattr("modules")?.cast_into::<PyDict>()?.copy())
    else {
        return;
    };
    for module in modules.values() {
        let Ok(module) = module.cast_into::<PyModule>() else {
            continue;
        };
        if let Ok(file) = module
            .getattr("__file__")
            .and_then(|f| f.extract::<String>())
            && file.ends_with(".py")
        {
            crate::register::register(&file, None, false);
        }
    }
}

/// Whether a file is watched (its module would be patched).
pub fn is_watched(path: &Path) -> bool {
    current().is_some_and(|session| session.watched(path).is_some())
}

/// Whether the log shows operation lines now (`-v`, or `jurigged.watch()`); false with no
/// session.
pub(crate) fn operations_shown() -> bool {
    current().is_some_and(|session| session.operations_shown.load(Ordering::Relaxed))
}

impl Session {
    /// The normalised path of a file the command line or `jurigged.watch()` watches.
    pub(crate) fn watched(&self, path: &Path) -> Option<PathBuf> {
        self.watched_with_stamp(path).map(|(path, _)| path)
    }

    /// `watched`, with the file's stamp when resolving it already told.
    pub(crate) fn watched_with_stamp(&self, path: &Path) -> Option<(PathBuf, Option<Stamp>)> {
        self.filter.watched_with_stamp(path).or_else(|| {
            let added = lock(&self.added);
            added
                .iter()
                .find_map(|filter| filter.watched_with_stamp(path))
        })
    }

    /// Shows operation lines from now on, as `-v` does; false if they were shown already.
    fn show_operations(&self) -> bool {
        !self.operations_shown.swap(true, Ordering::SeqCst)
    }
}

/// `jurigged.watch(pattern)` called by the program: files matching `patterns` (jurigged's
/// globs: relative to the current directory, `*` crossing directories) are watched too,
/// modules already loaded included. With `print_lines` (jurigged's default logger), the
/// operation lines are printed from now on, as with `-v`, starting with a `Watch` line
/// for every watched file the patterns match.
pub fn watch_from_program(
    py: Python<'_>,
    patterns: Option<&[String]>,
    print_lines: bool,
) -> Result<(), WatchError> {
    let Some(session) = current() else {
        return Ok(());
    };
    let filter = match patterns {
        Some(patterns) if !patterns.is_empty() => {
            let cwd = std::env::current_dir().map_err(WatchError::NoCurrentDirectory)?;
            Some(WatchFilter::new(patterns, &cwd, session.installed.clone())?)
        }
        _ => None,
    };
    let newly_printing = print_lines && session.show_operations();
    if newly_printing {
        let files = lock(&session.files);
        let mut names: Vec<&String> = files
            .iter()
            .filter(|(path, _)| filter.as_ref().is_none_or(|filter| filter.matches(path)))
            .map(|(_, watched)| &watched.code_filename)
            .collect();
        names.sort();
        for name in names {
            session.log.watch(name);
        }
    }
    let Some(filter) = filter else {
        return Ok(());
    };
    lock(&session.added).push(filter);
    // Modules loaded before, which the command line's filter did not want, are looked at
    // again.
    lock(&session.seen).clear();
    register_loaded_modules(py);
    Ok(())
}

/// Directories of installed code (standard library, site-packages), which the default
/// watch filter skips even when they sit under the current directory (a project's .venv).
fn installed_directories(py: Python<'_>) -> PyResult<Vec<PathBuf>> {
    let sys = py.import("sys")?;
    let mut directories = Vec::new();
    for name in ["prefix", "base_prefix", "exec_prefix", "base_exec_prefix"] {
        let prefix: String = sys.getattr(name)?.extract()?;
        directories.push(Path::new(&prefix).join("lib"));
        directories.push(Path::new(&prefix).join("lib64"));
    }
    for entry in sys.getattr("path")?.try_iter()? {
        if let Ok(entry) = entry?.extract::<String>()
            && (entry.contains("site-packages") || entry.contains("dist-packages"))
        {
            directories.push(PathBuf::from(entry));
        }
    }
    Ok(directories)
}
