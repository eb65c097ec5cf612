//! Gathering changed files into batches: which are complete, and when a batch is due.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::thread::Watching;

/// The default wait after the last event once every changed file is complete: enough to
/// gather the files an editor's "save all" or a `git checkout` writes together.
const SETTLE: Duration = Duration::from_millis(3);
/// The default wait when polling, which cannot see a file being completed.
const POLL_DEBOUNCE: Duration = Duration::from_millis(50);

/// How long a batch waits for its files still being written before the others go ahead;
/// also how long a file that was created or deleted, with no write seen since, is waited
/// for (a hard link, or a delete with no new version) before it is read anyway.
const WRITE_GRACE: Duration = Duration::from_millis(1000);

/// Why a pending file is not complete yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Writing {
    /// A writer has it open (we saw it write and not close yet): never read before the close.
    Open,
    /// Created or deleted since: a new version is probably being written. Waited for up to
    /// WRITE_GRACE only, since nothing proves that a writer has it open.
    Expected(Instant),
}

/// A changed file waiting for a batch.
pub(super) struct Pending {
    pub(super) writing: Option<Writing>,
}

impl Pending {
    pub(super) fn complete(&self, now: Instant) -> bool {
        match self.writing {
            None => true,
            Some(Writing::Open) => false,
            Some(Writing::Expected(since)) => now >= since + WRITE_GRACE,
        }
    }
}

/// What an event says about a watched file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Change {
    /// Closed after writing, or renamed into place.
    Complete,
    /// Written to: a writer has it open.
    Written,
    /// Created, deleted or moved away: a new version is probably coming.
    Replaced,
}

impl Watching {
    /// A file to read again, complete as it is.
    pub(super) fn pending_again(&mut self, path: PathBuf) {
        if self.pending.is_empty() {
            self.batch_start = Instant::now();
        }
        self.last_event = Instant::now();
        self.pending
            .entry(path)
            .or_insert(Pending { writing: None });
    }

    /// When the pending batch is due; `None` when nothing can be read yet.
    pub(super) fn batch_due(&self) -> Option<Instant> {
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
    pub(super) fn take_batch(&mut self, now: Instant) -> Vec<PathBuf> {
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

    pub(super) fn revision(&self, path: &Path) -> u64 {
        self.revisions.get(path).copied().unwrap_or(0)
    }

    /// Records what happened to a watched file.
    pub(super) fn changed(&mut self, path: PathBuf, change: Change) {
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
}
