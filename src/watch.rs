//! File watching: notify (inotify, or polling with `--poll`), batched and debounced.
//!
//! We watch the *directories* of watched files, so every way an editor saves works: in
//! place, a temporary file renamed over the original, delete and recreate, vim's backups.
//! A batch holds every watched file changed within the debounce window. A file being
//! written in place is not reported until it is closed (inotify's close-write), so a save
//! caught halfway is never read. Knows nothing of Python.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

const THREAD_NAME: &str = "jurigged-watch";

/// The default wait after the last event once every changed file is complete: enough to
/// gather the files an editor's "save all" or a `git checkout` writes together.
const SETTLE: Duration = Duration::from_millis(3);
/// The default wait when polling, which cannot see a file being completed.
const POLL_DEBOUNCE: Duration = Duration::from_millis(50);

/// Watches are put in place this long after start. An inotify instance costs its process
/// several milliseconds when it is closed (the kernel waits for an RCU grace period), which
/// short runs need not pay; a file saved before is still applied, when watching begins.
const ACTIVATE_AFTER: Duration = Duration::from_millis(100);

/// How long a file opened for writing may stay unclosed before it is read anyway.
const WRITE_GRACE: Duration = Duration::from_millis(1000);

/// How to notice changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// inotify (falls back to polling every second for what inotify cannot watch).
    Native,
    /// Poll every so often (`--poll SECONDS`).
    Poll(Duration),
}

enum Message {
    Event(notify::Result<Event>),
    /// Watch a file; the sender is told once the watch is in place.
    Watch(PathBuf, Sender<()>),
    Stop,
}

/// A handle on the watching thread: add files, stop it.
pub struct FileWatcher {
    sender: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl FileWatcher {
    /// Starts the watching thread. `on_batch` runs on it with the files changed together.
    /// `debounce` is the quiet period a batch waits for (`-d`); by default a batch is
    /// applied as soon as its files are complete.
    pub fn spawn(
        mode: Mode,
        debounce: Option<Duration>,
        on_batch: impl FnMut(Vec<PathBuf>) + Send + 'static,
    ) -> FileWatcher {
        let (sender, receiver) = mpsc::channel();
        let events = sender.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                block_signals();
                let mut state = Watching::new(mode, debounce, events);
                state.run(receiver, on_batch);
            })
            .expect("spawning the watcher thread");
        FileWatcher {
            sender,
            thread: Some(thread),
        }
    }

    /// Starts watching `file` (its directory, in fact). Returns once the watch is in place,
    /// so a save right after the program saw the file is not missed; but on the watching
    /// thread itself (a patch that imports a module) it cannot wait for itself.
    pub fn watch(&self, file: PathBuf) {
        let (done, wait) = mpsc::channel();
        let on_watching_thread = std::thread::current().name() == Some(THREAD_NAME);
        if self.sender.send(Message::Watch(file, done)).is_ok() && !on_watching_thread {
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Stops the thread and waits for it (a batch being applied finishes first).
    pub fn stop(&mut self) {
        let _ = self.sender.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A changed file waiting in the current batch.
struct Pending {
    /// Opened for writing and not closed yet.
    writing: bool,
}

struct Watching {
    mode: Mode,
    debounce: Option<Duration>,
    sender: Sender<Message>,
    native: Option<RecommendedWatcher>,
    poll: Option<PollWatcher>,
    files: HashSet<PathBuf>,
    directories: HashSet<PathBuf>,
    /// Watches are put in place a moment after start (see ACTIVATE_AFTER).
    active: bool,
    started: Instant,
    pending: HashMap<PathBuf, Pending>,
    last_event: Instant,
    /// When the current batch started; a file left open longer than WRITE_GRACE is read.
    batch_start: Instant,
}

impl Watching {
    fn new(mode: Mode, debounce: Option<Duration>, sender: Sender<Message>) -> Watching {
        Watching {
            mode,
            debounce,
            sender,
            native: None,
            poll: None,
            files: HashSet::new(),
            directories: HashSet::new(),
            active: false,
            started: Instant::now(),
            pending: HashMap::new(),
            last_event: Instant::now(),
            batch_start: Instant::now(),
        }
    }

    fn run(&mut self, receiver: Receiver<Message>, mut on_batch: impl FnMut(Vec<PathBuf>)) {
        loop {
            let deadline = [self.activation_due(), self.batch_due()]
                .into_iter()
                .flatten()
                .min();
            let message = match deadline {
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => receiver.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Message::Watch(file, done)) => {
                    self.add(file);
                    let _ = done.send(());
                }
                Ok(Message::Event(Ok(event))) => self.record(event),
                Ok(Message::Event(Err(_))) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if self.activation_due().is_some_and(|due| due <= now) {
                        self.activate();
                    } else if self.batch_due().is_some_and(|due| due <= now) {
                        let batch: Vec<PathBuf> =
                            self.pending.drain().map(|(path, _)| path).collect();
                        on_batch(batch);
                    }
                }
            }
        }
    }

    /// When the deferred watches are to be put in place, if they are not yet.
    fn activation_due(&self) -> Option<Instant> {
        (!self.active).then_some(self.started + ACTIVATE_AFTER)
    }

    /// Puts the deferred watches in place. A file saved before that is found by reading
    /// every watched file once (unchanged ones are skipped by the caller).
    fn activate(&mut self) {
        self.active = true;
        let directories: Vec<PathBuf> = self.directories.iter().cloned().collect();
        for directory in &directories {
            self.watch_directory(directory);
        }
        if !self.files.is_empty() {
            let now = Instant::now();
            self.batch_start = now;
            self.last_event = now;
            for file in &self.files {
                self.pending
                    .insert(file.clone(), Pending { writing: false });
            }
        }
    }

    /// When the pending batch is due; `None` when nothing is pending.
    fn batch_due(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        let quiet = match (self.debounce, self.native.is_some()) {
            (Some(debounce), _) => debounce,
            (None, true) => SETTLE,
            (None, false) => POLL_DEBOUNCE,
        };
        let quiet_until = self.last_event + quiet;
        let writing = self.pending.values().any(|p| p.writing);
        Some(if writing {
            // Wait for the close, but not forever: some programs keep files open.
            (self.batch_start + WRITE_GRACE).max(quiet_until)
        } else {
            quiet_until
        })
    }

    fn record(&mut self, event: Event) {
        // Polling never sees a close: the debounce is all it has.
        let native = self.native.is_some();
        let writing = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(false),
            EventKind::Access(_) => None,
            EventKind::Modify(ModifyKind::Metadata(_)) => Some(false),
            // Moved away or deleted: a new version is probably being written (vim's backup,
            // delete and recreate); wait for it rather than read a file that is not there.
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                Some(native)
            }
            EventKind::Modify(ModifyKind::Name(_)) => Some(false),
            EventKind::Modify(_) | EventKind::Create(CreateKind::File | CreateKind::Any) => {
                Some(native)
            }
            EventKind::Any | EventKind::Other => Some(false),
            EventKind::Create(_) => None,
        };
        let Some(writing) = writing else { return };
        // A rename reported with both ends: the old name is left (a new file will come), the
        // new name is complete.
        let both_ends = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::Both))
        );
        for (index, path) in event.paths.into_iter().enumerate() {
            if !self.files.contains(&path) {
                continue;
            }
            let writing = if both_ends {
                index == 0 && native
            } else {
                writing
            };
            if self.pending.is_empty() {
                self.batch_start = Instant::now();
            }
            self.last_event = Instant::now();
            let entry = self.pending.entry(path).or_insert(Pending { writing });
            entry.writing = writing;
        }
    }

    fn add(&mut self, file: PathBuf) {
        let Some(directory) = file.parent().map(Path::to_path_buf) else {
            return;
        };
        self.files.insert(file);
        if self.directories.insert(directory.clone()) && self.active {
            self.watch_directory(&directory);
        }
    }

    fn watch_directory(&mut self, directory: &Path) {
        let directory = directory.to_path_buf();
        if let Mode::Poll(interval) = self.mode {
            self.watch_polling(&directory, interval);
            return;
        }
        if self.native.is_none() {
            let sender = self.sender.clone();
            match notify::recommended_watcher(move |event| {
                let _ = sender.send(Message::Event(event));
            }) {
                Ok(watcher) => self.native = Some(watcher),
                Err(err) => {
                    say(&format!(
                        "jurigged: cannot use inotify ({err}); polling for changes every second"
                    ));
                    self.mode = Mode::Poll(Duration::from_secs(1));
                    self.watch_polling(&directory, Duration::from_secs(1));
                    return;
                }
            }
        }
        let watched = self
            .native
            .as_mut()
            .map(|w| w.watch(&directory, RecursiveMode::NonRecursive));
        if let Some(Err(err)) = watched {
            if is_out_of_watches(&err) {
                if self.poll.is_none() {
                    say(
                        "jurigged: out of inotify watches (fs.inotify.max_user_watches); polling the remaining directories every second",
                    );
                }
                self.watch_polling(&directory, Duration::from_secs(1));
            } else {
                say(&format!(
                    "jurigged: cannot watch {}: {err}",
                    directory.display()
                ));
            }
        }
    }

    fn watch_polling(&mut self, directory: &Path, interval: Duration) {
        if self.poll.is_none() {
            let sender = self.sender.clone();
            let config = notify::Config::default()
                .with_poll_interval(interval)
                .with_compare_contents(true);
            match PollWatcher::new(
                move |event| {
                    let _ = sender.send(Message::Event(event));
                },
                config,
            ) {
                Ok(watcher) => self.poll = Some(watcher),
                Err(err) => {
                    say(&format!("jurigged: cannot poll for changes: {err}"));
                    return;
                }
            }
        }
        if let Some(Err(err)) = self
            .poll
            .as_mut()
            .map(|w| w.watch(directory, RecursiveMode::NonRecursive))
        {
            say(&format!(
                "jurigged: cannot watch {}: {err}",
                directory.display()
            ));
        }
    }
}

/// Signals are Python's (Ctrl-C must interrupt the main thread's sleep): this thread, and
/// the notify threads it starts, never take them.
fn block_signals() {
    // SAFETY: plain libc calls on a local signal set, for the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for synchronous in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            libc::sigdelset(&mut set, synchronous);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn is_out_of_watches(err: &notify::Error) -> bool {
    match &err.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(libc::ENOSPC),
        _ => false,
    }
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn watch_one(
        mode: Mode,
        debounce: Option<Duration>,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        FileWatcher,
        Receiver<Vec<PathBuf>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::canonicalize(dir.path()).unwrap().join("mod.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let (sender, receiver) = channel();
        let watcher = FileWatcher::spawn(mode, debounce, move |batch| {
            let _ = sender.send(batch);
        });
        watcher.watch(file.clone());
        // Past the deferred start: its one look at every file is drained here.
        std::thread::sleep(ACTIVATE_AFTER + Duration::from_millis(100));
        while receiver.try_recv().is_ok() {}
        (dir, file, watcher, receiver)
    }

    #[test]
    fn in_place_write_is_one_batch() {
        let (_dir, file, mut watcher, batches) = watch_one(Mode::Native, None);
        std::fs::write(&file, "x = 2\n").unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![file]);
        watcher.stop();
    }

    #[test]
    fn rename_over_the_file_is_seen() {
        let (dir, file, mut watcher, batches) = watch_one(Mode::Native, None);
        let temporary = dir.path().join(".mod.py.swp");
        std::fs::write(&temporary, "x = 3\n").unwrap();
        std::fs::rename(&temporary, &file).unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![file]);
        watcher.stop();
    }

    #[test]
    fn other_files_in_the_directory_are_ignored() {
        let (dir, _file, mut watcher, batches) = watch_one(Mode::Native, None);
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        assert!(batches.recv_timeout(Duration::from_millis(300)).is_err());
        watcher.stop();
    }

    #[test]
    fn a_save_before_watching_begins_is_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::canonicalize(dir.path()).unwrap().join("early.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let (sender, receiver) = channel();
        let mut watcher = FileWatcher::spawn(Mode::Native, None, move |batch| {
            let _ = sender.send(batch);
        });
        watcher.watch(file.clone());
        std::fs::write(&file, "x = 2\n").unwrap();
        let batch = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![file]);
        watcher.stop();
    }

    #[test]
    fn polling_sees_changes() {
        let (_dir, file, mut watcher, batches) = watch_one(
            Mode::Poll(Duration::from_millis(50)),
            Some(Duration::from_millis(20)),
        );
        std::fs::write(&file, "x = 22\n").unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![file]);
        watcher.stop();
    }
}
