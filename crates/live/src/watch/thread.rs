//! The watching thread: its state, its loop (messages, events, deadlines), and the
//! deferred start of its watches.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use inotify::{Inotify, WatchDescriptor};
use notify::PollWatcher;

use super::batch::{Change, Pending};
use super::native::Target;
use super::{ACTIVATE_AFTER, Batch, IMPORT_BURST, Mailbox, Message, Mode, Stamp, say, stamp_of};

/// After a wake-up by events that concern no watched file (the program writing its own
/// files in a watched directory), wait this long before the next: the kernel merges the
/// repeated events meanwhile, so a busy loop of writes wakes us rarely.
const UNRELATED_PAUSE: Duration = Duration::from_millis(2);

pub(super) struct Watching {
    pub(super) mode: Mode,
    pub(super) debounce: Option<Duration>,
    pub(super) mailbox: Mailbox,
    pub(super) inotify: Option<Inotify>,
    pub(super) poll: Option<PollWatcher>,
    pub(super) files: HashSet<PathBuf>,
    /// The directories of watched files.
    pub(super) directories: HashSet<PathBuf>,
    /// Every inotify watch in place, by descriptor.
    pub(super) targets: HashMap<i32, Target>,
    /// Watched directories: those of watched files, and the nearest existing ancestor of
    /// each one that is missing (to see it come back).
    pub(super) directory_watches: HashMap<PathBuf, WatchDescriptor>,
    pub(super) file_watches: HashMap<PathBuf, WatchDescriptor>,
    /// Directories handed to the polling watcher (out of inotify watches).
    pub(super) polled: HashSet<PathBuf>,
    /// Events that concerned a watched file or directory, ever.
    pub(super) events_seen: u64,
    /// Counts the events of each file, so a read can tell whether a writer came meanwhile.
    pub(super) revisions: HashMap<PathBuf, u64>,
    /// Watches are put in place a moment after start (see ACTIVATE_AFTER).
    pub(super) active: bool,
    pub(super) started: Instant,
    pub(super) pending: HashMap<PathBuf, Pending>,
    /// Files to look at again at some time (a suspicious save waiting to settle).
    pub(super) rechecks: Vec<(Instant, PathBuf)>,
    pub(super) last_event: Instant,
    /// When the current batch started; files still being written hold it back this long.
    pub(super) batch_start: Instant,
    /// During a burst of imports: when to read the messages next (nothing wakes us).
    pub(super) burst_check: Option<Instant>,
}

impl Watching {
    pub(super) fn new(mode: Mode, debounce: Option<Duration>, mailbox: Mailbox) -> Watching {
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

    pub(super) fn run(
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
    pub(super) fn read_messages(&mut self, receiver: &Receiver<Message>) -> Option<usize> {
        let mut imports = 0;
        loop {
            match receiver.try_recv() {
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return None,
                Ok(Message::Watch(file, stamp, done)) => {
                    imports += usize::from(done.is_none());
                    self.add(file, stamp);
                    if let Some(done) = done {
                        // The waiter may have given up already.
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
    pub(super) fn wait(&self, wake: &UnixStream, deadline: Option<Instant>) {
        let timeout = match deadline {
            None => -1,
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                // Rounded up: waking a little early would only spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut fds = vec![wake.as_fd()];
        if let Some(inotify) = &self.inotify {
            fds.push(inotify.as_fd());
        }
        super::sys::wait_readable(&fds, timeout);
    }

    /// When the deferred watches are to be put in place, if they are not yet.
    pub(super) fn activation_due(&self) -> Option<Instant> {
        (!self.active).then_some(self.started + ACTIVATE_AFTER)
    }

    /// Puts the deferred watches in place. A file saved before that is found by reading
    /// every watched file once (unchanged ones are skipped by the caller).
    pub(super) fn activate(&mut self) {
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

    pub(super) fn add(&mut self, file: PathBuf, as_read: Option<Stamp>) {
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
}
