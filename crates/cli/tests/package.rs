//! The Python package (`pip install jurigged-rs`): the wheel maturin builds, installed into
//! a fresh venv of the python the tests were built against.

mod common;

use common::package::installed;
use common::run_in;

#[test]
fn the_wheel_installs_and_both_packages_import() {
    let package = installed();
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &package.python,
        &[
            "-c",
            "import jurigged, hot_restart, jurigged._jurigged as engine; print(jurigged.__version__, engine.__file__)",
        ],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(env!("CARGO_PKG_VERSION")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("site-packages/jurigged/_jurigged"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_extension_module_links_no_libpython() {
    let package = installed();
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &package.python,
        &[
            "-c",
            "import jurigged._jurigged as engine; print(engine.__file__)",
        ],
        None,
    );
    let library = run.stdout.trim();
    let ldd = std::process::Command::new("ldd")
        .arg(library)
        .output()
        .unwrap();
    let needed = String::from_utf8_lossy(&ldd.stdout);
    assert!(ldd.status.success(), "{needed}");
    assert!(!needed.contains("libpython"), "{needed}");
}
