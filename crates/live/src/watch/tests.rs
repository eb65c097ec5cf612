use super::*;
use std::sync::mpsc::{Receiver, channel};

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
