//! Live patching: which files are watched, and applying their changes to the interpreter.
//!
//! Files are registered when their code first runs: the script itself, every module
//! executed from a watched path (seen by an audit hook on `exec`, installed before the
//! program's first import), and modules already loaded at start. Registration keeps the
//! source as it was loaded: the next save is diffed against it. The watcher thread turns a
//! batch of saved files into plans (pure Rust) and applies them holding the GIL.

mod apply;
pub mod filter;
pub mod hooks;
pub mod log;
pub mod python;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyCode, PyDict, PyModule};
use pyo3::{ffi, wrap_pyfunction};

use crate::watch::{Batch, FileWatcher, Mode};
use apply::FileChange;
use filter::WatchFilter;
use jurigged_source::{self as source, ModuleTree};
use log::Logger;

/// Live patching options from the command line.
pub struct Settings<'a> {
    pub watch: &'a [String],
    /// `-d`: the quiet period to wait for; `None` for the default.
    pub debounce: Option<f64>,
    pub poll: Option<f64>,
}

/// A watched file and the version of it that is running.
struct Watched {
    /// The name the interpreter uses for it (`co_filename`, `__file__`).
    code_filename: String,
    /// The running version; `None` if it cannot be decoded (such files are not patched).
    source: Option<Arc<str>>,
    /// The version the module was loaded from (a running top-level statement's lines),
    /// kept from the first change on.
    loaded_source: Option<Arc<str>>,
    /// Running top-level statements changed since they started: (as loaded, now).
    running_aliases: Vec<(Vec<String>, Vec<String>)>,
    is_main: bool,
}

struct Service {
    filter: WatchFilter,
    /// Patterns the program added by calling `jurigged.watch(pattern)`.
    added: Mutex<Vec<WatchFilter>>,
    /// The directories the default filter skips (installed code), for those patterns.
    installed: Vec<PathBuf>,
    log: Logger,
    files: Mutex<HashMap<PathBuf, Watched>>,
    watcher: Mutex<Option<FileWatcher>>,
    /// Files of a batch that failed: tried again with the next batch, so that the next good
    /// save applies everything.
    retry: Mutex<Vec<PathBuf>>,
    /// Saves that would delete most of a module, held until they prove stable.
    held: Mutex<HashMap<PathBuf, Held>>,
    /// Every code file name `register` was asked about, watched or not.
    seen: Mutex<HashSet<String>>,
    /// Our process: a child made by `os.fork()` has no watcher thread and patches nothing.
    pid: u32,
}

/// The service, unless this is a forked child of the process that started it.
fn service() -> Option<&'static Service> {
    SERVICE
        .get()
        .filter(|service| service.pid == std::process::id())
}

static SERVICE: OnceLock<Service> = OnceLock::new();

/// Starts watching: call on the main thread, before the program runs.
pub fn start(py: Python<'_>, settings: &Settings) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|err| format!("no current directory: {err}"))?;
    let installed = installed_directories(py).unwrap_or_default();
    let filter = WatchFilter::new(settings.watch, &cwd, installed.clone())?;
    let log = Logger;
    // threading must learn its main thread here, not on our watcher thread later.
    py.import("threading").map_err(|err| err.to_string())?;
    let mode = match settings.poll {
        Some(seconds) if seconds > 0.0 => Mode::Poll(Duration::from_secs_f64(seconds)),
        _ => Mode::Native,
    };
    let debounce = settings.debounce.map(Duration::from_secs_f64);
    let watcher = FileWatcher::spawn(mode, debounce, on_batch)
        .map_err(|err| format!("cannot start watching files: {err}"))?;
    let service = Service {
        filter,
        added: Mutex::new(Vec::new()),
        installed,
        log,
        files: Mutex::new(HashMap::new()),
        watcher: Mutex::new(Some(watcher)),
        retry: Mutex::new(Vec::new()),
        held: Mutex::new(HashMap::new()),
        seen: Mutex::new(HashSet::new()),
        pid: std::process::id(),
    };
    if SERVICE.set(service).is_err() {
        return Err("live patching started twice".into());
    }
    register_loaded_modules(py);
    // SAFETY: the hook is a plain function that never fails and keeps no Python state.
    unsafe {
        PySys_AddAuditHook(audit_hook, std::ptr::null_mut());
    }
    // Registered first, so it runs last at exit: after non-daemon threads were joined
    // (patches still apply while they run), before the interpreter goes away.
    let stop = wrap_pyfunction!(stop_watching, py).map_err(|err| err.to_string())?;
    py.import("atexit")
        .and_then(|atexit| atexit.call_method1("register", (stop,)))
        .map_err(|err| err.to_string())?;
    Ok(())
}

/// Registers the module run as `__main__`, with the exact bytes that were compiled. A
/// script (`is_script`) is watched wherever it lives; a `-m` module if the filter says so.
pub fn register_main(filename: &str, source: &[u8], is_script: bool) {
    register_file(filename, Some(source), true, is_script);
}

unsafe extern "C" {
    fn PySys_AddAuditHook(
        hook: unsafe extern "C" fn(*const c_char, *mut ffi::PyObject, *mut c_void) -> c_int,
        user_data: *mut c_void,
    ) -> c_int;
}

/// Sees every `exec` of a code object (module bodies included) and registers its file.
unsafe extern "C" fn audit_hook(
    event: *const c_char,
    args: *mut ffi::PyObject,
    _user_data: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a NUL-terminated event name and, for "exec", a tuple whose
    // first item is the code object; the calling thread holds the GIL.
    unsafe {
        if CStr::from_ptr(event).to_bytes() != b"exec" {
            return 0;
        }
        let py = Python::assume_attached();
        let args = Bound::from_borrowed_ptr(py, args);
        if let Ok(code) = args.get_item(0)
            && code.is_instance_of::<PyCode>()
            && let Ok(filename) = code
                .getattr("co_filename")
                .and_then(|f| f.extract::<String>())
            && !filename.starts_with('<')
        {
            register(&filename, None, false);
        }
        // The hook must leave no exception behind.
        ffi::PyErr_Clear();
    }
    0
}

fn register_loaded_modules(py: Python<'_>) {
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
            register(&file, None, false);
        }
    }
    // SAFETY: clearing lookups that failed above.
    unsafe { ffi::PyErr_Clear() };
}

/// Adds a file to the watched set if the filter wants it, keeping the source it has now.
fn register(filename: &str, source: Option<&[u8]>, is_main: bool) {
    register_file(filename, source, is_main, false);
}

/// Watches a file whatever the filter says (a module hot restart wraps, wherever it lives).
pub fn watch_file(filename: &str) {
    register_file(filename, None, false, true);
}

fn register_file(filename: &str, source: Option<&[u8]>, is_main: bool, always: bool) {
    let Some(service) = service() else { return };
    // This runs on every import and every `exec()`: a name seen before costs one lookup.
    if !service
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(filename.to_string())
        && !is_main
        && !always
    {
        return;
    }
    // Installed code is skipped before any path is resolved.
    let watched = service.watched_with_stamp(Path::new(filename));
    let Some((path, stamp)) =
        watched.or_else(|| always.then(|| (filter::normalise(Path::new(filename)), None)))
    else {
        return;
    };
    // Taken before the read: a save after it is seen as a change.
    let Some(stamp) = stamp.or_else(|| crate::watch::stamp_of(&path)) else {
        return;
    };
    let mut files = service.files.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = files.get_mut(&path) {
        existing.is_main |= is_main;
        return;
    }
    let bytes = match source {
        Some(bytes) => Some(bytes.to_vec()),
        None => read_known_size(&path, stamp.1),
    };
    files.insert(
        path.clone(),
        Watched {
            code_filename: filename.to_string(),
            source: bytes.and_then(|b| decode_source(&b)).map(Arc::from),
            loaded_source: None,
            running_aliases: Vec::new(),
            is_main,
        },
    );
    drop(files);
    service.log.watch(filename);
    // The watcher thread may be waiting for the GIL to apply a batch: let it have it.
    // Never waits (the lock is only ever held for a moment): the GIL stays ours.
    if let Some(watcher) = service
        .watcher
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        watcher.watch_as_read(path, stamp);
    }
}

/// Reads a file whose size the stamp just gave: open, read, close (`fs::read` also asks
/// for the size and the position, two more system calls on every import). A file that
/// grew meanwhile is read whole, and no longer matches its stamp: it is read again as saved.
fn read_known_size(path: &Path, size: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).ok()?.saturating_add(1));
    // Through `Take`, the generic read loop: it asks for no size hint.
    (&file).take(u64::MAX).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Called by atexit: stops the watcher thread, letting a batch in progress finish.
#[pyfunction]
fn stop_watching(py: Python<'_>) {
    if let Some(service) = service() {
        let watcher = service
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut watcher) = watcher {
            py.detach(|| watcher.stop());
        }
    }
}

/// Runs on the watcher thread for every batch of saved files.
/// Serialises applying: the watcher thread and `apply_saved_changes` must never plan
/// against the same running version at once.
static APPLYING: Mutex<()> = Mutex::new(());

fn on_batch(batch: &mut Batch) {
    let Some(service) = SERVICE.get() else { return };
    let _turn = APPLYING.lock().unwrap_or_else(|e| e.into_inner());
    let paths = std::mem::take(&mut batch.paths);
    apply_paths(service, paths, &mut WatcherReads(batch));
}

/// How the files of a batch are read.
trait Reads {
    /// The file's bytes; `None` when it cannot be read or is still being written.
    fn read(&mut self, path: &Path) -> Option<Vec<u8>>;
    /// Asks to see `path` again after `delay`; false when that cannot be done (the change
    /// is then applied now).
    fn hold(&mut self, path: &Path, delay: Duration) -> bool;
}

/// Files of a watcher batch: the watcher knows when a writer still has one open.
struct WatcherReads<'a, 'b>(&'a mut Batch<'b>);

impl Reads for WatcherReads<'_, '_> {
    fn read(&mut self, path: &Path) -> Option<Vec<u8>> {
        if self.0.sees_writers() {
            self.0.read(path)
        } else {
            read_settled(path)
        }
    }

    fn hold(&mut self, path: &Path, delay: Duration) -> bool {
        self.0.recheck_after(path, delay);
        true
    }
}

/// Files read at the user's request (hot restart's `c`): what is on disk is applied now.
struct DiskReads;

impl Reads for DiskReads {
    fn read(&mut self, path: &Path) -> Option<Vec<u8>> {
        read_settled(path)
    }

    fn hold(&mut self, _path: &Path, _delay: Duration) -> bool {
        false
    }
}

/// Applies every saved change now, from the calling thread (hot_restart's `c`: the fix
/// saved a moment ago must be in place before the function runs again). Returns the
/// files whose saved version is still not running (a syntax error, a failed statement),
/// as the interpreter names them; each was reported already.
pub fn apply_saved_changes(py: Python<'_>) -> Vec<String> {
    let Some(service) = service() else {
        return Vec::new();
    };
    py.detach(|| {
        let _turn = APPLYING.lock().unwrap_or_else(|e| e.into_inner());
        let paths: Vec<PathBuf> = service
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        apply_paths(service, paths.clone(), &mut DiskReads);
        let files = service.files.lock().unwrap_or_else(|e| e.into_inner());
        paths
            .iter()
            .filter_map(|path| {
                let watched = files.get(path)?;
                // A file never patched (not UTF-8) cannot hold up a revival.
                let running = watched.source.as_deref()?;
                let on_disk = decode_source(&std::fs::read(path).ok()?)?;
                (running != on_disk).then(|| watched.code_filename.clone())
            })
            .collect()
    })
}

/// Whether a file is watched (its module would be patched).
pub fn is_watched(path: &Path) -> bool {
    service().is_some_and(|service| service.watched(path).is_some())
}

impl Service {
    /// The normalised path of a file the command line or `jurigged.watch()` watches.
    fn watched(&self, path: &Path) -> Option<PathBuf> {
        self.watched_with_stamp(path).map(|(path, _)| path)
    }

    /// `watched`, with the file's stamp when resolving it already told.
    fn watched_with_stamp(&self, path: &Path) -> Option<(PathBuf, Option<crate::watch::Stamp>)> {
        self.filter.watched_with_stamp(path).or_else(|| {
            let added = self.added.lock().unwrap_or_else(|e| e.into_inner());
            added
                .iter()
                .find_map(|filter| filter.watched_with_stamp(path))
        })
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
) -> Result<(), String> {
    let Some(service) = service() else {
        return Ok(());
    };
    let filter = match patterns {
        Some(patterns) if !patterns.is_empty() => {
            let cwd =
                std::env::current_dir().map_err(|err| format!("no current directory: {err}"))?;
            Some(WatchFilter::new(patterns, &cwd, service.installed.clone())?)
        }
        _ => None,
    };
    let newly_printing = print_lines && log::show_operations();
    if newly_printing {
        let files = service.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = files
            .iter()
            .filter(|(path, _)| filter.as_ref().is_none_or(|filter| filter.matches(path)))
            .map(|(_, watched)| &watched.code_filename)
            .collect();
        names.sort();
        for name in names {
            service.log.watch(name);
        }
    }
    let Some(filter) = filter else {
        return Ok(());
    };
    service
        .added
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(filter);
    // Modules loaded before, which the command line's filter did not want, are looked at
    // again.
    service
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    register_loaded_modules(py);
    Ok(())
}

fn apply_paths(service: &Service, mut paths: Vec<PathBuf>, reads: &mut dyn Reads) {
    for path in service
        .retry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
    {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let mut changes = Vec::new();
    for path in paths {
        if let Some(change) = plan_file(service, &path, reads) {
            changes.push(change);
        }
    }
    if changes.is_empty() {
        return;
    }
    let changed_code = changes.iter().any(|change| !change.ops.is_empty());
    let Some(result) = Python::try_attach(|py| {
        let result = apply::apply(py, &changes, &service.log);
        if let Ok(applied) = &result {
            hooks::emit(
                py,
                &hooks::PatchEvent::Applied {
                    done: &applied.done,
                    changed_code,
                },
            );
        }
        result
    }) else {
        return;
    };
    match result {
        Ok(applied) => {
            let mut files = service.files.lock().unwrap_or_else(|e| e.into_inner());
            for apply::StatementAlias {
                path,
                as_loaded,
                now,
            } in applied.running_aliases
            {
                if let Some(watched) = files.get_mut(&path) {
                    watched
                        .running_aliases
                        .retain(|(loaded, _)| *loaded != as_loaded);
                    watched.running_aliases.push((as_loaded, now));
                }
            }
            for change in changes {
                if let Some(watched) = files.get_mut(&change.path) {
                    watched.source = Some(Arc::from(change.new_source));
                }
            }
        }
        Err(apply::NotApplied { traceback: report }) => {
            service
                .retry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(changes.iter().map(|c| c.path.clone()));
            hooks::emit_attached(&hooks::PatchEvent::NotApplied {
                summary: &error_summary(&report),
            });
            let names: Vec<String> = changes.iter().map(|c| c.code_filename.clone()).collect();
            service.log.error(&format!(
                "jurigged: could not apply the change to {}; the previous version keeps running.\n{report}",
                names.join(", ")
            ));
        }
    }
}

/// Reads a saved file and diffs it against the running version. `None` when there is
/// nothing to apply (unchanged, deleted, unreadable, or a syntax error, reported here).
fn plan_file(service: &Service, path: &Path, reads: &mut dyn Reads) -> Option<FileChange> {
    let (code_filename, old_source, loaded_source, running_aliases, is_main) = {
        let files = service.files.lock().unwrap_or_else(|e| e.into_inner());
        let watched = files.get(path)?;
        (
            watched.code_filename.clone(),
            watched.source.clone(),
            watched.loaded_source.clone(),
            watched.running_aliases.clone(),
            watched.is_main,
        )
    };
    // A deleted file changes nothing: it may be recreated in a moment.
    let bytes = reads.read(path)?;
    let Some(old_source) = old_source else {
        // Python could not decode it either (the import failed): quiet until it can be.
        if decode_source(&bytes).is_some() {
            service.log.error(&format!(
                "jurigged: {code_filename} could not be decoded when it was loaded; changes to it are not applied"
            ));
        }
        return None;
    };
    let Some(new_source) = decode_source(&bytes) else {
        service.log.error(&format!(
            "jurigged: {code_filename} is not valid in its encoding (UTF-8 unless a coding comment says otherwise); the change was not applied"
        ));
        return None;
    };
    if *new_source == *old_source {
        service.held_saves().remove(path);
        return None;
    }
    // Only what the save touched is parsed: watching costs nothing for files never edited
    // (with `-w /`, the whole standard library), and a save costs the size of the change.
    let changes = match source::changes(&old_source, &new_source) {
        Ok(changes) => {
            reported_syntax_errors().remove(&code_filename);
            changes
        }
        Err(error) => {
            report_syntax_error(service, &code_filename, &new_source, error.line);
            return None;
        }
    };
    // The first time a change comes, the running version is still the loaded one.
    let loaded_source = match loaded_source {
        Some(loaded) => loaded,
        None => {
            let loaded = Arc::clone(&old_source);
            let mut files = service.files.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(watched) = files.get_mut(path) {
                watched.loaded_source = Some(Arc::clone(&loaded));
            }
            loaded
        }
    };
    if held_back(service, path, &code_filename, &changes, &new_source, reads) {
        return None;
    }
    Some(FileChange {
        path: path.to_path_buf(),
        code_filename,
        is_main,
        old_source,
        old_tree: changes.old_tree,
        loaded_source,
        running_aliases,
        new_source,
        new_tree: changes.new_tree,
        ops: changes.ops,
    })
}

/// How long a save that deletes most of a module must stay unchanged before it is applied.
const MASS_DELETION_SETTLE: Duration = Duration::from_secs(1);

/// A save held back because it would delete most of a module's definitions.
struct Held {
    source: String,
    since: Instant,
}

impl Service {
    fn held_saves(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether to hold back a save that deletes more than half of a module's definitions (an
/// emptied file deletes them all): far more often a save in progress than the user's
/// intent. It is applied once it has stayed the same for MASS_DELETION_SETTLE, so a real
/// deletion still works; one line says so when the hold begins.
fn held_back(
    service: &Service,
    path: &Path,
    code_filename: &str,
    changes: &source::Changes,
    new_source: &str,
    reads: &mut dyn Reads,
) -> bool {
    let (lost, touched) = lost_definitions(&changes.old_tree, &changes.new_tree);
    let total = touched + changes.untouched_definitions;
    let mut held = service.held_saves();
    if lost == 0 || lost * 2 <= total {
        held.remove(path);
        return false;
    }
    let now = Instant::now();
    match held.get(path) {
        Some(hold) if hold.source == new_source => {
            let waited = now.saturating_duration_since(hold.since);
            if waited >= MASS_DELETION_SETTLE {
                held.remove(path);
                return false;
            }
            reads.hold(path, MASS_DELETION_SETTLE - waited)
        }
        previous => {
            let first = previous.is_none();
            if !reads.hold(path, MASS_DELETION_SETTLE) {
                return false;
            }
            held.insert(
                path.to_path_buf(),
                Held {
                    source: new_source.to_string(),
                    since: now,
                },
            );
            drop(held);
            if first {
                let what = if new_source.trim().is_empty() {
                    format!("is empty, which would delete all {total} of its definitions")
                } else {
                    format!("lost {lost} of {total} definitions in one save")
                };
                service.log.error(&format!(
                    "jurigged: {code_filename} {what}; applying it only if it stays so for a second"
                ));
            }
            true
        }
    }
}

/// How many of the old version's functions and classes (methods included) the new version
/// no longer has, out of how many.
fn lost_definitions(old: &ModuleTree, new: &ModuleTree) -> (usize, usize) {
    fn names(prefix: &str, body: &[source::Definition], into: &mut Vec<String>) {
        for definition in body {
            if definition.kind == source::Kind::Statement {
                continue;
            }
            let name = format!("{prefix}.{}", definition.name);
            names(&name, &definition.children, into);
            into.push(name);
        }
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    names("", &old.definitions, &mut before);
    names("", &new.definitions, &mut after);
    let after: std::collections::HashSet<String> = after.into_iter().collect();
    let lost = before.iter().filter(|name| !after.contains(*name)).count();
    (lost, before.len())
}

/// Reads a saved file when no watcher tells whether it is complete (polling, hot restart's
/// `c`). A file that reads empty or does not parse may be caught between an editor's steps
/// (created but not yet written): read it again shortly, and take what it holds once it
/// stops changing.
fn read_settled(path: &Path) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(path).ok()?;
    for _ in 0..5 {
        let suspicious = bytes.is_empty()
            || decode_source(&bytes).is_none_or(|text| source::parse(&text).is_err());
        if !suspicious {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
        let again = std::fs::read(path).ok()?;
        if again == bytes {
            break;
        }
        bytes = again;
    }
    Some(bytes)
}

/// The saves reported as not parsing (a hash of the text, by file): the watcher and hot
/// restart's `c` may both read one, and it is reported once.
fn reported_syntax_errors() -> std::sync::MutexGuard<'static, HashMap<String, u64>> {
    static REPORTED: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    REPORTED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A source file's text, decoded as python decodes it (a coding cookie, a BOM, else
/// UTF-8); `None` when it cannot be.
pub fn decode_source(bytes: &[u8]) -> Option<String> {
    decode_text(bytes).map(universal_newlines)
}

/// Line ends as python reads them (`\r\n` and `\r` are `\n`): a file whose line ends an
/// editor or git converted has not changed, and a lone `\r` ends a line for the parser too.
fn universal_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn decode_text(bytes: &[u8]) -> Option<String> {
    match source::decode(bytes) {
        source::Decoded::Text(text) => Some(text),
        source::Decoded::Invalid => None,
        // Rare (cp1252, shift_jis...): python's codec, the one that decoded the import.
        source::Decoded::NeedsCodec(codec) => Python::attach(|py| {
            let text = pyo3::types::PyBytes::new(py, bytes)
                .call_method1("decode", (codec,))
                .and_then(|text| text.extract::<String>());
            text.ok()
        }),
    }
}

/// Reports a save that does not parse, in python's words (file, line, caret).
fn report_syntax_error(service: &Service, filename: &str, source: &str, line: usize) {
    let hash = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        source.hash(&mut hasher);
        hasher.finish()
    };
    if reported_syntax_errors().insert(filename.to_string(), hash) == Some(hash) {
        return;
    }
    let message = Python::try_attach(|py| {
        let compiled = py
            .import("builtins")
            .and_then(|b| b.getattr("compile")?.call1((source, filename, "exec")));
        match compiled {
            Ok(_) => None,
            Err(err) => {
                let text = py
                    .import("traceback")
                    .and_then(|t| {
                        t.call_method1("format_exception_only", (err.get_type(py), err.value(py)))
                    })
                    .and_then(|lines| {
                        let mut text = String::new();
                        for line in lines.try_iter()? {
                            text.push_str(&line?.extract::<String>()?);
                        }
                        Ok(text)
                    });
                Some(text.unwrap_or_else(|_| err.to_string()))
            }
        }
    })
    .flatten();
    let report = match message {
        Some(text) => format!(
            "jurigged: syntax error in {filename}; the previous version keeps running.\n{text}"
        ),
        None => format!(
            "jurigged: cannot analyse {filename} line {line} (jurigged's parser does not understand it); the change was not applied"
        ),
    };
    hooks::emit_attached(&hooks::PatchEvent::NotApplied {
        summary: &error_summary(&report),
    });
    service.log.error(&report);
}

/// One line for a status bar: `app.py:12: SyntaxError: invalid syntax`.
fn error_summary(report: &str) -> String {
    let message = report
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim();
    let location = report.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("File \"")?;
        let (file, rest) = rest.split_once('"')?;
        let number: String = rest
            .trim_start_matches(", line ")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
        Some(format!("{name}:{number}: "))
    });
    format!("{}{message}", location.unwrap_or_default())
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

#[cfg(test)]
mod tests {
    use super::read_known_size;

    #[test]
    fn a_read_of_known_size_is_whole_even_when_the_size_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.py");
        std::fs::write(&path, "x = 1234\n").unwrap();
        assert_eq!(read_known_size(&path, 9).unwrap(), b"x = 1234\n");
        // Grew since the stamp, or shrank: what the file holds now, all of it.
        assert_eq!(read_known_size(&path, 3).unwrap(), b"x = 1234\n");
        assert_eq!(read_known_size(&path, 40).unwrap(), b"x = 1234\n");
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_known_size(&path, 0).unwrap(), b"");
        assert!(read_known_size(&dir.path().join("gone.py"), 1).is_none());
    }
}
