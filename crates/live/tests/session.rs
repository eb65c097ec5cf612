//! A live-patching session inside the test process: it applies a save to an imported
//! module, stops (its thread joined, later saves ignored) and starts again.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jurigged_live::{Settings, StartError};
use pyo3::prelude::*;

/// What `livemod.value()` returns now.
fn value(py: Python<'_>) -> i64 {
    py.import("livemod")
        .and_then(|module| module.call_method0("value"))
        .and_then(|value| value.extract())
        .expect("livemod.value() runs")
}

/// Waits (without holding the GIL) until `livemod.value()` is `expected`.
fn wait_for_value(expected: i64) -> Result<(), i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = Python::attach(value);
        if now == expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(now);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn save(file: &Path, value: i64) {
    std::fs::write(file, format!("def value():\n    return {value}\n")).unwrap();
}

/// The threads of this process named as the watcher thread is, once there are `expected`
/// (a new thread names itself a moment after it starts) or a second has passed.
fn watcher_threads(expected: usize) -> usize {
    let count = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter(|task| {
                let comm = task.as_ref().unwrap().path().join("comm");
                std::fs::read_to_string(comm).is_ok_and(|name| name.trim() == "jurigged-watch")
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    while count() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    count()
}

#[test]
fn a_session_applies_saves_stops_and_starts_again() {
    support::start_python();
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = std::fs::canonicalize(dir.path()).unwrap();
    let file = root.join("livemod.py");
    save(&file, 1);
    let watch = [root.display().to_string()];
    let settings = Settings {
        watch: &watch,
        debounce: None,
        poll: None,
        verbose: false,
    };

    Python::attach(|py| {
        jurigged_live::start(py, &settings).expect("the session starts");
        let again = jurigged_live::start(py, &settings);
        assert!(
            matches!(again, Err(StartError::AlreadyStarted)),
            "{again:?}"
        );
        py.import("sys")
            .and_then(|sys| {
                sys.getattr("path")?
                    .call_method1("insert", (0, root.to_str().unwrap()))
            })
            .unwrap();
        assert_eq!(value(py), 1);
    });
    assert!(jurigged_live::is_watched(&file), "the import registered it");
    assert_eq!(watcher_threads(1), 1);

    save(&file, 22);
    wait_for_value(22).expect("the save is applied");

    assert!(Python::attach(jurigged_live::stop));
    assert_eq!(watcher_threads(0), 0, "stop joins the watcher thread");
    assert!(!jurigged_live::is_watched(&file));
    assert!(!Python::attach(jurigged_live::stop), "nothing left to stop");
    save(&file, 333);
    // Longer than a running session takes to apply a save (its watches start after
    // 100 ms, a batch settles in a few).
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        Python::attach(value),
        22,
        "a stopped session applies nothing"
    );

    // The module is registered again at start (as it is on disk now); the next save is
    // diffed against that.
    Python::attach(|py| jurigged_live::start(py, &settings)).expect("it starts again");
    assert!(jurigged_live::is_watched(&file));
    assert_eq!(watcher_threads(1), 1);
    save(&file, 4444);
    wait_for_value(4444).expect("the new session applies the save");
    assert!(Python::attach(jurigged_live::stop));
    assert_eq!(watcher_threads(0), 0);
}
