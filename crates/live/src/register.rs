//! Registering files: the script, every module executed from a watched path (seen by the
//! audit hook on `exec`), modules already loaded at start, and those hot restart wraps.
//! Registration keeps the source as it was loaded: the next save is diffed against it.

use std::path::Path;
use std::sync::Arc;

use crate::decode_source;
use crate::filter;
use crate::session::{self, Watched};

/// Registers the module run as `__main__`, with the exact bytes that were compiled. A
/// script (`is_script`) is watched wherever it lives; a `-m` module if the filter says so.
pub fn register_main(filename: &str, source: &[u8], is_script: bool) {
    register_file(filename, Some(source), true, is_script);
}

/// Adds a file to the watched set if the filter wants it, keeping the source it has now.
pub(crate) fn register(filename: &str, source: Option<&[u8]>, is_main: bool) {
    register_file(filename, source, is_main, false);
}

/// Watches a file whatever the filter says (a module hot restart wraps, wherever it lives).
pub fn watch_file(filename: &str) {
    register_file(filename, None, false, true);
}

fn register_file(filename: &str, source: Option<&[u8]>, is_main: bool, always: bool) {
    let Some(service) = session::current() else {
        return;
    };
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
