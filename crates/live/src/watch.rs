//! File watching: inotify (or polling with `--poll`), batched, and careful about saves in
//! progress. Knows nothing of Python.
//!
//! We watch the *directories* of watched files for names appearing, disappearing and files
//! being closed after writing, so every way an editor saves works: in place, a temporary
//! file renamed over the original, delete and recreate, vim's backups. Each watched file is
//! also watched itself for writes, so we know when a writer has it open: such a file is
//! never read until it is closed. A directory that is deleted or moved away is watched
//! again when it comes back (its nearest existing ancestor is watched meanwhile), and its
//! files are read again then.
//!
//! The masks are lean on purpose: opening, reading, or writing *other* files in a watched
//! directory produces no event at all (closing a written one produces one), so the
//! program's own file I/O does not wake us.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use notify::{PollWatcher, RecursiveMode, Watcher};

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

/// How long a batch waits for its files still being written before the others go ahead;
/// also how long a file that was created or deleted, with no write seen since, is waited
/// for (a hard link, or a delete with no new version) before it is read anyway.
const WRITE_GRACE: Duration = Duration::from_millis(1000);

/// A watched directory: names appearing and disappearing, files closed after writing, the
/// directory itself going away. No open, read or write of the files in it.
const DIRECTORY_EVENTS: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR);
/// After a wake-up by events that concern no watched file (the program writing its own
/// files in a watched directory), wait this long before the next: the kernel merges the
/// repeated events meanwhile, so a busy loop of writes wakes us rarely.
const UNRELATED_PAUSE: Duration = Duration::from_millis(2);

/// A watched file itself: its writes, which tell that a writer has it open.
const FILE_EVENTS: WatchMask = WatchMask::MODIFY;

/// How to notice changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// inotify (falls back to polling every second for what inotify cannot watch).
    Native,
    /// Poll every so often (`--poll SECONDS`).
    Poll(Duration),
}

enum Message {
    /// What the polling watcher saw.
    Polled(notify::Result<notify::Event>),
    /// Watch a file; `Some(stamp)`: as the program read it; the sender, if any, is told
    /// once the watch is in place.
    Watch(PathBuf, Option<Stamp>, Option<Sender<()>>),
    Stop,
}

/// Messages to the watching thread, which sleeps in `poll(2)`: each one also writes a byte
/// to a socket it polls.
#[derive(Clone)]
struct Mailbox {
    sender: Sender<Message>,
    wake: Arc<UnixStream>,
    /// The thread will look at its messages soon without being woken: it is reading
    /// a burst of imports (see IMPORT_BURST).
    looking_soon: Arc<AtomicBool>,
}

impl Mailbox {
    fn send(&self, message: Message) -> bool {
        let sent = self.sender.send(message).is_ok();
        // Non-blocking: a full socket already holds a wake-up.
        let _ = (&*self.wake).write(&[1]);
        sent
    }

    /// Sends a message that can wait a moment: during a burst of imports the thread reads
    /// them every IMPORT_BURST, and the program never pays for waking it at each import.
    fn send_soon(&self, message: Message) {
        let _ = self.sender.send(message);
        if !self.looking_soon.load(Ordering::Acquire) {
            let _ = (&*self.wake).write(&[1]);
        }
    }
}

/// How often the thread reads its messages during a burst of imports.
const IMPORT_BURST: Duration = Duration::from_millis(20);

/// What a file looked like: modification time and length.
pub type Stamp = (std::time::SystemTime, u64);

/// The file's stamp now, if it exists and is a regular file.
pub fn stamp_of(path: &Path) -> Option<Stamp> {
    stamp_from(&std::fs::metadata(path).ok()?)
}

/// The stamp of a regular file, from metadata already read.
pub fn stamp_from(metadata: &std::fs::Metadata) -> Option<Stamp> {
    metadata
        .is_file()
        .then(|| Some((metadata.modified().ok()?, metadata.len())))?
}

/// A handle on the watching thread: add files, stop it.
pub struct FileWatcher {
    mailbox: Mailbox,
    thread: Option<JoinHandle<()>>,
}

impl FileWatcher {
    /// Starts the watching thread. `on_batch` runs on it with the files changed together.
    /// `debounce` is the quiet period a batch waits for (`-d`); by default a batch is
    /// applied as soon as its files are complete.
    pub fn spawn(
        mode: Mode,
        debounce: Option<Duration>,
        on_batch: impl FnMut(&mut Batch) + Send + 'static,
    ) -> std::io::Result<FileWatcher> {
        let (sender, receiver) = mpsc::channel();
        let (wake_sender, wake_receiver) = UnixStream::pair()?;
        wake_sender.set_nonblocking(true)?;
        wake_receiver.set_nonblocking(true)?;
        let mailbox = Mailbox {
            sender,
            wake: Arc::new(wake_sender),
            looking_soon: Arc::default(),
        };
        let thread_mailbox = mailbox.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                block_signals();
                let mut state = Watching::new(mode, debounce, thread_mailbox);
                state.run(receiver, wake_receiver, on_batch);
            })?;
        Ok(FileWatcher {
            mailbox,
            thread: Some(thread),
        })
    }

    /// Starts watching `file` (and its directory); returns once the watch is in place.
    #[cfg(test)]
    pub fn watch(&self, file: PathBuf) {
        let (done, wait) = mpsc::channel();
        if self.mailbox.send(Message::Watch(file, None, Some(done))) {
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Starts watching `file`, which the program read when it looked like `stamp`, without
    /// waiting (every import calls this): once the watch is in place, a file that no longer
    /// looks like `stamp` is taken as saved meanwhile.
    pub fn watch_as_read(&self, file: PathBuf, stamp: Stamp) {
        self.mailbox
            .send_soon(Message::Watch(file, Some(stamp), None));
    }

    /// Stops the thread and waits for it (a batch being applied finishes first).
    pub fn stop(&mut self) {
        self.mailbox.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The files of a batch, handed to `on_batch`, and how to read them safely.
pub struct Batch<'a> {
    /// The changed files, each complete when the batch was made.
    pub paths: Vec<PathBuf>,
    watching: &'a mut Watching,
}

impl Batch<'_> {
    /// Reads a file of the batch. `None` when it cannot be read, or when a writer touched
    /// it meanwhile: a save is in progress, and the file comes back in a later batch once
    /// it is complete.
    pub fn read(&mut self, path: &Path) -> Option<Vec<u8>> {
        if self.watching.inotify.is_none() {
            return std::fs::read(path).ok();
        }
        // Every write made before the read is in inotify's queue by now.
        self.watching.read_events();
        if self
            .watching
            .pending
            .get(path)
            .is_some_and(|p| p.writing.is_some())
        {
            return None;
        }
        let revision = self.watching.revision(path);
        let bytes = std::fs::read(path).ok()?;
        self.watching.read_events();
        (self.watching.revision(path) == revision).then_some(bytes)
    }

    /// Whether reads see writers (inotify), so a file read here was complete.
    pub fn sees_writers(&self) -> bool {
        self.watching.inotify.is_some()
    }

    /// Puts `path` in a batch again after `delay`, unless it changes before.
    pub fn recheck_after(&mut self, path: &Path, delay: Duration) {
        let due = Instant::now() + delay;
        self.watching.rechecks.retain(|(_, p)| p != path);
        self.watching.rechecks.push((due, path.to_path_buf()));
    }
}

/// Why a pending file is not complete yet.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Writing {
    /// A writer has it open (we saw it write and not close yet): never read before the close.
    Open,
    /// Created or deleted since: a new version is probably being written. Waited for up to
    /// WRITE_GRACE only, since nothing proves that a writer has it open.
    Expected(Instant),
}

/// A changed file waiting for a batch.
struct Pending {
    writing: Option<Writing>,
}

impl Pending {
    fn complete(&self, now: Instant) -> bool {
        match self.writing {
            None => true,
            Some(Writing::Open) => false,
            Some(Writing::Expected(since)) => now >= since + WRITE_GRACE,
        }
    }
}

/// What an event says about a watched file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// Closed after writing, or renamed into place.
    Complete,
    /// Written to: a writer has it open.
    Written,
    /// Created, deleted or moved away: a new version is probably coming.
    Replaced,
}

/// What an inotify watch descriptor watches.
#[derive(Debug, Clone)]
enum Target {
    Directory(PathBuf),
    File(PathBuf),
}

struct Watching {
    mode: Mode,
    debounce: Option<Duration>,
    mailbox: Mailbox,
    inotify: Option<Inotify>,
    poll: Option<PollWatcher>,
    files: HashSet<PathBuf>,
    /// The directories of watched files.
    directories: HashSet<PathBuf>,
    /// Every inotify watch in place, by descriptor.
    targets: HashMap<i32, Target>,
    /// Watched directories: those of watched files, and the nearest existing ancestor of
    /// each one that is missing (to see it come back).
    directory_watches: HashMap<PathBuf, WatchDescriptor>,
    file_watches: HashMap<PathBuf, WatchDescriptor>,
    /// Directories handed to the polling watcher (out of inotify watches).
    polled: HashSet<PathBuf>,
    /// Events that concerned a watched file or directory, ever.
    events_seen: u64,
    /// Counts the events of each file, so a read can tell whether a writer came meanwhile.
    revisions: HashMap<PathBuf, u64>,
    /// Watches are put in place a moment after start (see ACTIVATE_AFTER).
    active: bool,
    started: Instant,
    pending: HashMap<PathBuf, Pending>,
    /// Files to look at again at some time (a suspicious save waiting to settle).
    rechecks: Vec<(Instant, PathBuf)>,
    last_event: Instant,
    /// When the current batch started; files still being written hold it back this long.
    batch_start: Instant,
    /// During a burst of imports: when to read the messages next (nothing wakes us).
    burst_check: Option<Instant>,
}

impl Watching {
    fn new(mode: Mode, debounce: Option<Duration>, mailbox: Mailbox) -> Watching {
        Watching {
            mode,
            debounce,
            mailbox,
            inotify: None,
            poll: None,
            files: HashSet::new(),
            directories: HashSet::new(),
            targets: HashMap::new(),
            directory_watches: HashMap::new(),
            file_watches: HashMap::new(),
            polled: HashSet::new(),
            revisions: HashMap::new(),
            events_seen: 0,
            active: false,
            started: Instant::now(),
            pending: HashMap::new(),
            rechecks: Vec::new(),
            last_event: Instant::now(),
            batch_start: Instant::now(),
            burst_check: None,
        }
    }

    fn run(
        &mut self,
        receiver: Receiver<Message>,
        mut wake: UnixStream,
        mut on_batch: impl FnMut(&mut Batch),
    ) {
        loop {
            let deadline = [
                self.activation_due(),
                self.batch_due(),
                self.rechecks.iter().map(|(due, _)| *due).min(),
                self.burst_check,
            ]
            .into_iter()
            .flatten()
            .min();
            self.wait(&wake, deadline);
            let now = Instant::now();
            let mut buffer = [0u8; 64];
            while matches!(wake.read(&mut buffer), Ok(n) if n > 0) {}
            let Some(imports) = self.read_messages(&receiver) else {
                return;
            };
            if imports > 0 {
                self.mailbox.looking_soon.store(true, Ordering::Release);
                self.burst_check = Some(now + IMPORT_BURST);
            } else if self.burst_check.is_some_and(|due| due <= now) {
                // The burst is over: imports wake the thread again. One sent just before
                // that saw the flag still up and did not: read it now.
                self.mailbox.looking_soon.store(false, Ordering::Release);
                self.burst_check = None;
                if self.read_messages(&receiver).is_none() {
                    return;
                }
            }
            let events_before = self.events_seen;
            let unrelated = self.read_events() > 0 && self.events_seen == events_before;
            if self.activation_due().is_some_and(|due| due <= now) {
                self.activate();
            }
            let (due, later): (Vec<_>, Vec<_>) =
                self.rechecks.drain(..).partition(|(due, _)| *due <= now);
            self.rechecks = later;
            for (_, path) in due {
                self.pending_again(path);
            }
            if self.batch_due().is_some_and(|due| due <= now) {
                let paths = self.take_batch(now);
                if !paths.is_empty() {
                    on_batch(&mut Batch {
                        paths,
                        watching: self,
                    });
                }
            }
            if unrelated {
                std::thread::sleep(UNRELATED_PAUSE);
            }
        }
    }

    /// Handles the messages waiting; `None` when the thread is to stop. Counts the imports.
    fn read_messages(&mut self, receiver: &Receiver<Message>) -> Option<usize> {
        let mut imports = 0;
        loop {
            match receiver.try_recv() {
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return None,
                Ok(Message::Watch(file, stamp, done)) => {
                    imports += usize::from(done.is_none());
                    self.add(file, stamp);
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Ok(Message::Polled(Ok(event))) => {
                    for path in event.paths {
                        self.changed(path, Change::Complete);
                    }
                }
                Ok(Message::Polled(Err(_))) => {}
                Err(TryRecvError::Empty) => return Some(imports),
            }
        }
    }

    /// Sleeps until a message, an inotify event or `deadline`.
    fn wait(&self, wake: &UnixStream, deadline: Option<Instant>) {
        let timeout = match deadline {
            None => -1,
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                // Rounded up: waking a little early would only spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut fds = vec![libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(inotify) = &self.inotify {
            fds.push(libc::pollfd {
                fd: inotify.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: `fds` is a valid array of pollfd for the length given.
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout);
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
        if self.mode == Mode::Native {
            match Inotify::init() {
                Ok(inotify) => self.inotify = Some(inotify),
                Err(err) => {
                    say(&format!(
                        "jurigged: cannot use inotify ({err}); polling for changes every second"
                    ));
                    self.mode = Mode::Poll(Duration::from_secs(1));
                }
            }
        }
        self.watch_directories();
        let files: Vec<PathBuf> = self.files.iter().cloned().collect();
        for file in files {
            self.watch_file(&file);
            self.pending_again(file);
        }
    }

    /// A file to read again, complete as it is.
    fn pending_again(&mut self, path: PathBuf) {
        if self.pending.is_empty() {
            self.batch_start = Instant::now();
        }
        self.last_event = Instant::now();
        self.pending
            .entry(path)
            .or_insert(Pending { writing: None });
    }

    /// When the pending batch is due; `None` when nothing can be read yet.
    fn batch_due(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        let quiet = match (self.debounce, self.inotify.is_some()) {
            (Some(debounce), _) => debounce,
            (None, true) => SETTLE,
            (None, false) => POLL_DEBOUNCE,
        };
        let quiet_until = self.last_event + quiet;
        let now = Instant::now();
        let complete = self.pending.values().any(|p| p.complete(now));
        let incomplete = self.pending.values().any(|p| !p.complete(now));
        if complete && !incomplete {
            return Some(quiet_until);
        }
        if complete {
            // Files saved together go together: wait for the rest, but not forever.
            return Some((self.batch_start + WRITE_GRACE).max(quiet_until));
        }
        // Nothing complete: wake when an expected new version stops being waited for.
        self.pending
            .values()
            .filter_map(|p| match p.writing {
                Some(Writing::Expected(since)) => Some(since + WRITE_GRACE),
                _ => None,
            })
            .min()
            .map(|due| due.max(quiet_until))
    }

    /// Takes the complete files out of the pending set; those still being written stay.
    fn take_batch(&mut self, now: Instant) -> Vec<PathBuf> {
        let complete: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| p.complete(now))
            .map(|(path, _)| path.clone())
            .collect();
        for path in &complete {
            self.pending.remove(path);
        }
        self.batch_start = now;
        complete
    }

    fn revision(&self, path: &Path) -> u64 {
        self.revisions.get(path).copied().unwrap_or(0)
    }

    /// Records what happened to a watched file.
    fn changed(&mut self, path: PathBuf, change: Change) {
        if !self.files.contains(&path) {
            return;
        }
        *self.revisions.entry(path.clone()).or_insert(0) += 1;
        self.events_seen += 1;
        // Polling never sees a writer: the debounce is all it has.
        let change = if self.inotify.is_none() {
            Change::Complete
        } else {
            change
        };
        let now = Instant::now();
        if self.pending.is_empty() {
            self.batch_start = now;
        }
        self.last_event = now;
        let entry = self
            .pending
            .entry(path)
            .or_insert(Pending { writing: None });
        entry.writing = match change {
            Change::Complete => None,
            Change::Written => Some(Writing::Open),
            Change::Replaced => Some(Writing::Expected(now)),
        };
    }

    /// Reads every inotify event queued, without blocking; returns how many there were.
    fn read_events(&mut self) -> usize {
        let mut buffer = [0u8; 4096];
        let mut count = 0;
        loop {
            let Some(inotify) = self.inotify.as_mut() else {
                return count;
            };
            let events: Vec<(i32, EventMask, Option<OsString>)> =
                match inotify.read_events(&mut buffer) {
                    Ok(events) => events
                        .map(|e| {
                            (
                                e.wd.get_watch_descriptor_id(),
                                e.mask,
                                e.name.map(|n| n.to_os_string()),
                            )
                        })
                        .collect(),
                    Err(_) => return count,
                };
            if events.is_empty() {
                return count;
            }
            count += events.len();
            for (descriptor, mask, name) in events {
                self.on_event(descriptor, mask, name);
            }
        }
    }

    fn on_event(&mut self, descriptor: i32, mask: EventMask, name: Option<OsString>) {
        if mask.contains(EventMask::Q_OVERFLOW) {
            self.overflowed();
            return;
        }
        let Some(target) = self.targets.get(&descriptor).cloned() else {
            return;
        };
        if mask.intersects(EventMask::ISDIR | EventMask::DELETE_SELF | EventMask::MOVE_SELF) {
            self.events_seen += 1;
        }
        match target {
            Target::File(path) => {
                if mask.contains(EventMask::IGNORED) {
                    self.forget_watch(descriptor);
                } else if mask.contains(EventMask::MODIFY) {
                    self.changed(path, Change::Written);
                }
            }
            Target::Directory(directory) => {
                if mask
                    .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::IGNORED)
                {
                    self.directory_lost(&directory, descriptor);
                    return;
                }
                let Some(name) = name else { return };
                if mask.contains(EventMask::ISDIR) {
                    // A directory appearing may be one we lost (rm -rf and recreate, a
                    // `git checkout`, `mv x pkg`).
                    if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                        self.watch_directories();
                    }
                    return;
                }
                let path = directory.join(name);
                if !self.files.contains(&path) {
                    return;
                }
                if mask.contains(EventMask::CLOSE_WRITE) {
                    self.changed(path, Change::Complete);
                } else if mask.contains(EventMask::MOVED_TO) {
                    // Renamed into place: complete, and a new file to watch.
                    self.watch_file(&path);
                    self.changed(path, Change::Complete);
                } else if mask.contains(EventMask::CREATE) {
                    self.watch_file(&path);
                    self.changed(path, Change::Replaced);
                } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
                    self.unwatch_file(&path);
                    self.changed(path, Change::Replaced);
                }
            }
        }
    }

    /// Events were lost: nothing is known of writers any more, read every file again.
    fn overflowed(&mut self) {
        let files: Vec<PathBuf> = self.files.iter().cloned().collect();
        for file in files {
            self.changed(file, Change::Complete);
        }
        self.watch_directories();
    }

    fn forget_watch(&mut self, descriptor: i32) {
        let is_current = |watch: Option<&WatchDescriptor>| {
            watch.is_some_and(|w| w.get_watch_descriptor_id() == descriptor)
        };
        match self.targets.remove(&descriptor) {
            Some(Target::File(path)) if is_current(self.file_watches.get(&path)) => {
                self.file_watches.remove(&path);
            }
            Some(Target::Directory(path)) if is_current(self.directory_watches.get(&path)) => {
                self.directory_watches.remove(&path);
            }
            _ => {}
        }
    }

    /// A watched directory was deleted or moved away: its files wait for it to come back.
    fn directory_lost(&mut self, directory: &Path, descriptor: i32) {
        if let (Some(inotify), Some(watch)) =
            (self.inotify.as_mut(), self.directory_watches.get(directory))
            && watch.get_watch_descriptor_id() == descriptor
        {
            // Moved away, it is still alive elsewhere: stop following it.
            let _ = inotify.watches().remove(watch.clone());
        }
        self.forget_watch(descriptor);
        let inside: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| f.parent() == Some(directory))
            .cloned()
            .collect();
        for file in inside {
            self.unwatch_file(&file);
        }
        self.watch_directories();
    }

    fn add(&mut self, file: PathBuf, as_read: Option<Stamp>) {
        let Some(directory) = file.parent().map(Path::to_path_buf) else {
            return;
        };
        self.files.insert(file.clone());
        self.directories.insert(directory);
        if self.active {
            self.watch_directories();
            self.watch_file(&file);
            if as_read.is_some_and(|stamp| Some(stamp) != stamp_of(&file)) {
                self.changed(file, Change::Complete);
            }
        }
    }

    /// Watches every directory of watched files that is not watched yet; the files of one
    /// that came back are read again. A missing one is waited for by watching its nearest
    /// existing ancestor, which sees it appear.
    fn watch_directories(&mut self) {
        if let Mode::Poll(interval) = self.mode {
            // Once each: the poller reads every file of a directory it is given (a package
            // of 2,000 modules made each import cost a full scan).
            let directories: Vec<PathBuf> = self
                .directories
                .iter()
                .filter(|d| !self.polled.contains(*d))
                .cloned()
                .collect();
            for directory in directories {
                self.watch_polling(&directory, interval);
                self.polled.insert(directory);
            }
            return;
        }
        // Until nothing changes: a directory may appear while its ancestor's watch is
        // being put in place.
        for _ in 0..16 {
            let mut missing = Vec::new();
            let mut progress = false;
            let unwatched: Vec<PathBuf> = self
                .directories
                .iter()
                .filter(|d| !self.directory_watches.contains_key(*d) && !self.polled.contains(*d))
                .cloned()
                .collect();
            for directory in unwatched {
                match self.watch_directory(&directory) {
                    Ok(()) => {
                        progress = true;
                        let inside: Vec<PathBuf> = self
                            .files
                            .iter()
                            .filter(|f| f.parent() == Some(directory.as_path()))
                            .cloned()
                            .collect();
                        for file in inside {
                            self.watch_file(&file);
                            self.changed(file, Change::Complete);
                        }
                    }
                    Err(_) => missing.push(directory),
                }
            }
            let mut needed: HashSet<PathBuf> = self.directories.clone();
            for directory in &missing {
                let Some(ancestor) = directory.ancestors().skip(1).find(|a| a.is_dir()) else {
                    continue;
                };
                needed.insert(ancestor.to_path_buf());
                if !self.directory_watches.contains_key(ancestor)
                    && self.watch_directory(ancestor).is_ok()
                {
                    progress = true;
                }
            }
            // Ancestors watched for a directory that has come back are not needed any more.
            let unneeded: Vec<PathBuf> = self
                .directory_watches
                .keys()
                .filter(|d| !needed.contains(*d))
                .cloned()
                .collect();
            for directory in unneeded {
                if let Some(watch) = self.directory_watches.remove(&directory) {
                    self.targets.remove(&watch.get_watch_descriptor_id());
                    if let Some(inotify) = self.inotify.as_mut() {
                        let _ = inotify.watches().remove(watch);
                    }
                }
            }
            if missing.is_empty() || !progress {
                return;
            }
        }
    }

    /// Watches one directory with inotify; out of watches, polls it instead.
    fn watch_directory(&mut self, directory: &Path) -> std::io::Result<()> {
        let Some(inotify) = self.inotify.as_mut() else {
            return Err(std::io::ErrorKind::Unsupported.into());
        };
        match inotify.watches().add(directory, DIRECTORY_EVENTS) {
            Ok(watch) => {
                self.targets.insert(
                    watch.get_watch_descriptor_id(),
                    Target::Directory(directory.to_path_buf()),
                );
                self.directory_watches
                    .insert(directory.to_path_buf(), watch);
                Ok(())
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => {
                if self.poll.is_none() {
                    say(
                        "jurigged: out of inotify watches (fs.inotify.max_user_watches); polling the remaining directories every second",
                    );
                }
                self.polled.insert(directory.to_path_buf());
                self.watch_polling(directory, Duration::from_secs(1));
                Ok(())
            }
            Err(err) => {
                if !matches!(
                    err.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES)
                ) {
                    say(&format!(
                        "jurigged: cannot watch {}: {err}",
                        directory.display()
                    ));
                }
                Err(err)
            }
        }
    }

    /// Watches the file at `path` for writes (a new file there replaces the old watch).
    fn watch_file(&mut self, path: &Path) {
        let Some(inotify) = self.inotify.as_mut() else {
            return;
        };
        // Without it (missing, or out of watches) only the writer's close is seen, which
        // still tells that the file is complete.
        let Ok(watch) = inotify.watches().add(path, FILE_EVENTS) else {
            return;
        };
        let descriptor = watch.get_watch_descriptor_id();
        if let Some(old) = self.file_watches.insert(path.to_path_buf(), watch)
            && old.get_watch_descriptor_id() != descriptor
        {
            self.targets.remove(&old.get_watch_descriptor_id());
            let _ = inotify.watches().remove(old);
        }
        self.targets
            .insert(descriptor, Target::File(path.to_path_buf()));
    }

    /// Stops watching the file that was at `path` (it was deleted or moved away).
    fn unwatch_file(&mut self, path: &Path) {
        if let Some(watch) = self.file_watches.remove(path) {
            self.targets.remove(&watch.get_watch_descriptor_id());
            if let Some(inotify) = self.inotify.as_mut() {
                let _ = inotify.watches().remove(watch);
            }
        }
    }

    fn watch_polling(&mut self, directory: &Path, interval: Duration) {
        if self.poll.is_none() {
            let mailbox = self.mailbox.clone();
            let config = notify::Config::default()
                .with_poll_interval(interval)
                .with_compare_contents(true);
            match PollWatcher::new(
                move |event| {
                    mailbox.send(Message::Polled(event));
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
        let watcher = FileWatcher::spawn(mode, debounce, move |batch: &mut Batch| {
            let _ = sender.send(batch.paths.clone());
        })
        .unwrap();
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
        let mut watcher = FileWatcher::spawn(Mode::Native, None, move |batch: &mut Batch| {
            let _ = sender.send(batch.paths.clone());
        })
        .unwrap();
        watcher.watch(file.clone());
        std::fs::write(&file, "x = 2\n").unwrap();
        let batch = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![file]);
        watcher.stop();
    }

    #[test]
    fn imports_in_a_burst_are_watched_and_a_save_meanwhile_is_seen() {
        let (dir, _file, mut watcher, batches) = watch_one(Mode::Native, None);
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let files: Vec<PathBuf> = (0..50).map(|i| root.join(format!("m{i}.py"))).collect();
        for file in &files {
            std::fs::write(file, "x = 1\n").unwrap();
        }
        // Written long before the program imports them, as modules are.
        std::thread::sleep(Duration::from_millis(300));
        for file in &files {
            watcher.watch_as_read(file.clone(), stamp_of(file).unwrap());
        }
        // Saved after its import, before the burst's watches are in place.
        std::fs::write(&files[49], "x = 22\n").unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![files[49].clone()]);
        // Once the burst is over, each import is watched from then on.
        std::thread::sleep(IMPORT_BURST * 3);
        std::fs::write(&files[0], "x = 3\n").unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![files[0].clone()]);
        let late = root.join("late.py");
        std::fs::write(&late, "x = 1\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        watcher.watch_as_read(late.clone(), stamp_of(&late).unwrap());
        std::thread::sleep(IMPORT_BURST * 3);
        std::fs::write(&late, "x = 4\n").unwrap();
        let batch = batches.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(batch, vec![late]);
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
