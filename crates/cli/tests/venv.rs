//! Virtual environments: an activated venv's packages import; a jurigged installed inside a
//! venv's bin/ uses that venv; a venv of another Python version is refused in one line.

mod common;

use std::path::Path;
use std::process::Command;

use common::{jurigged, python, run_with_env};

const PROBE: &str = "import sys, venv_only\n\
                     print(venv_only.WHERE, sys.prefix == sys.base_prefix)\n\
                     print(sys.prefix)\n";

/// Makes a venv (no pip: fast) holding a module that exists nowhere else.
fn make_venv(root: &Path) -> std::path::PathBuf {
    let venv = root.join("env");
    let status = Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    let site = venv
        .join("lib")
        .join(format!("python{}", env!("JURIGGED_PYTHON_VERSION")))
        .join("site-packages");
    std::fs::write(site.join("venv_only.py"), "WHERE = 'venv'\n").unwrap();
    std::fs::write(root.join("probe.py"), PROBE).unwrap();
    venv
}

#[test]
fn activated_venv_packages_import() {
    let root = tempfile::tempdir().unwrap();
    let venv = make_venv(root.path());
    let venv_text = venv.display().to_string();
    let run = run_with_env(
        root.path(),
        &jurigged(),
        &["probe.py"],
        None,
        &[("VIRTUAL_ENV", venv_text.as_str())],
    );
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout, format!("venv False\n{venv_text}\n"));
}

#[test]
fn without_a_venv_its_packages_do_not_import() {
    let root = tempfile::tempdir().unwrap();
    make_venv(root.path());
    let run = run_with_env(root.path(), &jurigged(), &["probe.py"], None, &[]);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("No module named 'venv_only'"),
        "{}",
        run.stderr
    );
}

#[test]
fn jurigged_installed_in_a_venv_uses_it() {
    let root = tempfile::tempdir().unwrap();
    let venv = make_venv(root.path());
    let installed = venv.join("bin").join("jurigged");
    std::fs::copy(jurigged(), &installed).unwrap();
    let run = run_with_env(root.path(), &installed, &["probe.py"], None, &[]);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout, format!("venv False\n{}\n", venv.display()));
}

#[test]
fn venv_of_another_python_is_refused_in_one_line() {
    let root = tempfile::tempdir().unwrap();
    let venv = root.path().join("old-env");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::fs::write(
        venv.join("pyvenv.cfg"),
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.8.18\n",
    )
    .unwrap();
    std::fs::write(root.path().join("hello.py"), "print('still runs')\n").unwrap();
    let venv_text = venv.display().to_string();
    let run = run_with_env(
        root.path(),
        &jurigged(),
        &["hello.py"],
        None,
        &[("VIRTUAL_ENV", venv_text.as_str())],
    );
    assert_eq!(run.stdout, "still runs\n");
    assert_eq!(
        run.stderr,
        format!(
            "jurigged: ignoring virtual environment {venv_text}: it is for Python 3.8, \
             but jurigged embeds Python {}\n",
            env!("JURIGGED_PYTHON_VERSION")
        )
    );
}
