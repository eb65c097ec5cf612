//! How the files of a batch are read: from the watcher, which knows when a writer still
//! has one open, or straight from disk when the user asks (hot restart's `c`).

use std::path::Path;
use std::time::Duration;

use jurigged_source as source;

use crate::decode_source;
use crate::watch::Batch;

/// How the files of a batch are read.
pub(crate) trait Reads {
    /// The file's bytes; `None` when it cannot be read or is still being written.
    fn read(&mut self, path: &Path) -> Option<Vec<u8>>;
    /// Asks to see `path` again after `delay`; false when that cannot be done (the change
    /// is then applied now).
    fn hold(&mut self, path: &Path, delay: Duration) -> bool;
}

/// Files of a watcher batch: the watcher knows when a writer still has one open.
pub(crate) struct WatcherReads<'a, 'b>(pub(crate) &'a mut Batch<'b>);

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
pub(crate) struct DiskReads;

impl Reads for DiskReads {
    fn read(&mut self, path: &Path) -> Option<Vec<u8>> {
        read_settled(path)
    }

    fn hold(&mut self, _path: &Path, _delay: Duration) -> bool {
        false
    }
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
