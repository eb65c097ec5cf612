//! Saves that are hard to see whole: directories deleted or moved and recreated, writers
//! that pause halfway, streams of quick saves, emptied files. The real binary runs a
//! program in a temporary directory; the test changes files on disk and reads what the
//! program prints. Every wait is for output, with a generous deadline.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::program::{Program, Save, save};
use common::{LOOP, jurigged, project};

/// Generous: these machines may be busy with other builds.
const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until stdout contains `needle`.
fn wait_for(program: &Program, needle: &str) {
    let deadline = Instant::now() + DEADLINE;
    while !program.stdout().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            program.stdout(),
            program.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until stderr contains `needle`.
fn wait_for_stderr(program: &Program, needle: &str) {
    let deadline = Instant::now() + DEADLINE;
    while !program.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {needle:?} on stderr\n--- stdout ---\n{}\n--- stderr ---\n{}",
            program.stdout(),
            program.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the program's inotify watches are in place (they start a moment after the
/// program), seen in /proc: a save made earlier would be found by one read of every file,
/// which cannot tell a writer still at work.
fn wait_until_watching(program: &Program) {
    let deadline = Instant::now() + DEADLINE;
    let fdinfo = format!("/proc/{}/fdinfo", program.id());
    loop {
        let watches: usize = std::fs::read_dir(&fdinfo)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .map(|text| text.matches("inotify wd:").count())
                    .sum()
            })
            .unwrap_or(0);
        if watches >= 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the program never watched its files"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_never_failed(program: &Program) {
    let stdout = program.stdout();
    assert!(!stdout.contains("error:"), "{stdout}\n{}", program.stderr());
}

const PKG_APP: &str = "import pkg.mod\n\n\ndef probe():\n    return pkg.mod.value()\n";

fn module(value: &str) -> String {
    format!("def value():\n    return '{value}'\n")
}

/// A project whose app.py prints `pkg.mod.value()`, with pkg at `package` (`pkg` or
/// `pkg/sub`, imported as `pkg.mod` either way through `__path__`).
fn start_package_app(module_dir: &str) -> (tempfile::TempDir, Program) {
    let app = format!("{PKG_APP}{LOOP}").replace(
        "import pkg.mod",
        &format!("import {}", module_dir.replace('/', ".") + ".mod"),
    );
    let app = app.replace(
        "pkg.mod.value()",
        &format!("{}.mod.value()", module_dir.replace('/', ".")),
    );
    let module_path = format!("{module_dir}/mod.py");
    let dir = project(&[
        ("app.py", &app),
        ("pkg/__init__.py", ""),
        ("pkg/sub/__init__.py", ""),
        (&module_path, &module("v1")),
    ]);
    let program = Program::start(&jurigged(), &["app.py"], dir.path());
    wait_for(&program, "v1");
    wait_until_watching(&program);
    (dir, program)
}

/// Writes `files` (relative path, text) under `root`, creating directories.
fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn a_deleted_and_recreated_directory_is_read_again_and_watched() {
    let (dir, program) = start_package_app("pkg");
    std::fs::remove_dir_all(dir.path().join("pkg")).unwrap();
    // Restored with a different content (another branch): applied when it comes back.
    write_files(
        dir.path(),
        &[
            ("pkg/__init__.py", ""),
            ("pkg/sub/__init__.py", ""),
            ("pkg/mod.py", &module("v2")),
        ],
    );
    wait_for(&program, "v2");
    // And watched again.
    save(&dir.path().join("pkg/mod.py"), &module("v3"), Save::InPlace);
    wait_for(&program, "v3");
    assert_never_failed(&program);
}

#[test]
fn a_directory_moved_away_and_back_is_watched_again() {
    let (dir, program) = start_package_app("pkg");
    std::fs::rename(dir.path().join("pkg"), dir.path().join("x")).unwrap();
    std::fs::rename(dir.path().join("x"), dir.path().join("pkg")).unwrap();
    save(&dir.path().join("pkg/mod.py"), &module("v2"), Save::InPlace);
    wait_for(&program, "v2");
    save(
        &dir.path().join("pkg/mod.py"),
        &module("v3"),
        Save::RenameOver,
    );
    wait_for(&program, "v3");
    assert_never_failed(&program);
}

#[test]
fn a_recreated_nested_directory_is_read_again_and_watched() {
    let (dir, program) = start_package_app("pkg/sub");
    std::fs::remove_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    // The parent exists a moment before the child: both are waited for in turn.
    std::thread::sleep(Duration::from_millis(50));
    write_files(
        dir.path(),
        &[
            ("pkg/__init__.py", ""),
            ("pkg/sub/__init__.py", ""),
            ("pkg/sub/mod.py", &module("v2")),
        ],
    );
    wait_for(&program, "v2");
    save(
        &dir.path().join("pkg/sub/mod.py"),
        &module("v3"),
        Save::InPlace,
    );
    wait_for(&program, "v3");
    assert_never_failed(&program);
}

/// An app.py with several functions, `probe` returning `value`.
fn app_with_functions(value: &str) -> String {
    format!(
        "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c():\n    return 3\n\n\ndef probe():\n    return '{value}' + str(a() + b() + c())\n{LOOP}"
    )
}

#[test]
fn a_writer_pausing_halfway_is_waited_for() {
    let dir = project(&[("app.py", &app_with_functions("v1-"))]);
    let app = dir.path().join("app.py");
    let program = Program::start(&jurigged(), &["app.py"], dir.path());
    wait_for(&program, "v1-6");
    wait_until_watching(&program);
    let text = app_with_functions("v2-");
    let (first, second) = text.split_at(text.find("def a").unwrap());
    let mut file = std::fs::File::create(&app).unwrap();
    file.write_all(first.as_bytes()).unwrap();
    file.flush().unwrap();
    // Longer than any grace: a file still open for writing is never read.
    std::thread::sleep(Duration::from_secs(2));
    file.write_all(second.as_bytes()).unwrap();
    drop(file);
    wait_for(&program, "v2-6");
    assert_never_failed(&program);
}

#[test]
fn a_stream_of_quick_in_place_saves_never_applies_a_truncated_file() {
    let dir = project(&[("app.py", &app_with_functions("v0-"))]);
    let app = dir.path().join("app.py");
    let program = Program::start(&jurigged(), &["app.py"], dir.path());
    wait_for(&program, "v0-6");
    wait_until_watching(&program);
    // A small deterministic generator for gaps of 0 to 5 ms.
    let mut seed: u32 = 12345;
    for n in 1..=200 {
        save(&app, &app_with_functions(&format!("v{n}-")), Save::InPlace);
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        std::thread::sleep(Duration::from_micros(u64::from(seed >> 16) % 5001));
    }
    wait_for(&program, "v200-6");
    assert_never_failed(&program);
}

#[test]
fn an_emptied_file_is_held_until_it_settles() {
    let dir = project(&[("app.py", &app_with_functions("v1-"))]);
    let app = dir.path().join("app.py");
    let program = Program::start(&jurigged(), &["app.py"], dir.path());
    wait_for(&program, "v1-6");
    wait_until_watching(&program);
    // `: > app.py`
    std::fs::File::create(&app).unwrap();
    wait_for_stderr(&program, "is empty");
    save(&app, &app_with_functions("v2-"), Save::InPlace);
    wait_for(&program, "v2-6");
    assert_never_failed(&program);
}

#[test]
fn deleting_most_definitions_for_real_is_applied_after_a_second() {
    let dir = project(&[("app.py", &app_with_functions("v1-"))]);
    let app = dir.path().join("app.py");
    let program = Program::start(&jurigged(), &["app.py"], dir.path());
    wait_for(&program, "v1-6");
    wait_until_watching(&program);
    let started = Instant::now();
    let kept = format!(
        "def probe():\n    return 'left: ' + ' '.join(n for n in 'abc' if n in globals())\n{LOOP}"
    );
    save(&app, &kept, Save::InPlace);
    wait_for_stderr(&program, "lost 3 of 4 definitions in one save");
    wait_for(&program, "left: \n");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_never_failed(&program);
}
