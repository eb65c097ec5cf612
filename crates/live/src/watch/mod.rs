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

mod batch;
mod native;
mod polling;
mod sys;
#[cfg(test)]
mod tests;
mod thread;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thread::Watching;

const THREAD_NAME: &str = "jurigged-watch";

/// Watches are put in place this long after start. An inotify instance costs its process
/// several milliseconds when it is closed (the kernel waits for an RCU grace period), which
/// short runs need not pay; a file saved before is still applied, when watching begins.
const ACTIVATE_AFTER: Duration = Duration::from_millis(100);

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
        // Fails only once the thread has stopped, when there is nothing left to watch.
        let _ = self.sender.send(message);
        if !self.looking_soon.load(Ordering::Acquire) {
            // Non-blocking: a full socket already holds a wake-up.
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
                sys::block_signals();
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
            // Asked from the thread itself (a subscriber stopping the session), it ends
            // after this batch: it cannot wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                // A panic there was printed as it happened; stopping goes on.
                let _ = thread.join();
            }
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

fn say(line: &str) {
    // Nowhere to report a failing stderr.
    let _ = writeln!(std::io::stderr(), "{line}");
}
