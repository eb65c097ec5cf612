//! inotify: the watches on directories and files, and what their events mean.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inotify::{EventMask, WatchDescriptor, WatchMask};

use super::batch::Change;
use super::thread::Watching;
use super::{Mode, say};

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

/// A watched file itself: its writes, which tell that a writer has it open.
const FILE_EVENTS: WatchMask = WatchMask::MODIFY;

/// What an inotify watch descriptor watches.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Directory(PathBuf),
    File(PathBuf),
}

impl Watching {
    /// Reads every inotify event queued, without blocking; returns how many there were.
    pub(super) fn read_events(&mut self) -> usize {
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

    pub(super) fn on_event(&mut self, descriptor: i32, mask: EventMask, name: Option<OsString>) {
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
    pub(super) fn overflowed(&mut self) {
        let files: Vec<PathBuf> = self.files.iter().cloned().collect();
        for file in files {
            self.changed(file, Change::Complete);
        }
        self.watch_directories();
    }

    pub(super) fn forget_watch(&mut self, descriptor: i32) {
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
    pub(super) fn directory_lost(&mut self, directory: &Path, descriptor: i32) {
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

    /// Watches every directory of watched files that is not watched yet; the files of one
    /// that came back are read again. A missing one is waited for by watching its nearest
    /// existing ancestor, which sees it appear.
    pub(super) fn watch_directories(&mut self) {
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
                        // The kernel may have dropped it already (the directory is gone).
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
    pub(super) fn watch_directory(&mut self, directory: &Path) -> std::io::Result<()> {
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
    pub(super) fn watch_file(&mut self, path: &Path) {
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
    pub(super) fn unwatch_file(&mut self, path: &Path) {
        if let Some(watch) = self.file_watches.remove(path) {
            self.targets.remove(&watch.get_watch_descriptor_id());
            if let Some(inotify) = self.inotify.as_mut() {
                // The kernel drops the watch of a deleted file itself: it may be gone.
                let _ = inotify.watches().remove(watch);
            }
        }
    }
}
