//! The Python package as a user gets it: the wheel maturin builds, installed into a fresh
//! venv. Built once per Python and per change of the sources, whatever the number of test
//! processes asking (nextest runs each test in its own process: a file lock serialises
//! them, and a stamp of the sources says whether the last build is still good).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// A venv with the package installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub venv: PathBuf,
    /// The venv's python.
    pub python: PathBuf,
    /// The console script pip made: the `jurigged` command a user runs.
    pub jurigged: PathBuf,
    /// The wheel it came from.
    pub wheel: PathBuf,
}

/// The package installed for the python the tests were built against.
pub fn installed() -> Installed {
    installed_for(&super::python())
}

/// The package installed for `python` (a venv is made from it).
pub fn installed_for(python: &Path) -> Installed {
    let root = workspace_root();
    let tag = python_tag(python);
    let dir = root.join("target/package-tests").join(&tag);
    std::fs::create_dir_all(&dir).expect("package test directory");
    let lock = std::fs::File::create(dir.join("lock")).expect("lock file");
    lock.lock().expect("lock");
    let stamp = sources_stamp(&root);
    let stamp_file = dir.join("stamp");
    let venv = dir.join("venv");
    let installed = Installed {
        python: venv.join("bin/python"),
        jurigged: venv.join("bin/jurigged"),
        wheel: wheel_in(&dir.join("wheel")).unwrap_or_default(),
        venv: venv.clone(),
    };
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str())
        && installed.jurigged.exists()
    {
        return installed;
    }
    let _ = std::fs::remove_dir_all(dir.join("wheel"));
    let built = Command::new(maturin())
        .args(["build", "--quiet", "--interpreter"])
        .arg(python)
        .arg("--out")
        .arg(dir.join("wheel"))
        .current_dir(&root)
        // Its own target directory: the tests' build stays as it is.
        .env("CARGO_TARGET_DIR", root.join("target/package").join(&tag))
        .status()
        .expect("maturin runs (pip install maturin)");
    assert!(
        built.success(),
        "maturin build failed for {}",
        python.display()
    );
    let wheel = wheel_in(&dir.join("wheel")).expect("a wheel was built");
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("venv");
    assert!(made.success(), "python -m venv failed");
    let pip = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg(&wheel)
        .status()
        .expect("pip");
    assert!(pip.success(), "pip install of {} failed", wheel.display());
    std::fs::write(&stamp_file, &stamp).expect("stamp");
    Installed { wheel, ..installed }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `maturin` from PATH, else the one beside the build python (pip installs it there).
fn maturin() -> PathBuf {
    let beside = super::python().with_file_name("maturin");
    if beside.exists() {
        beside
    } else {
        PathBuf::from("maturin")
    }
}

/// `cp311` for a CPython 3.11.
fn python_tag(python: &Path) -> String {
    let output = Command::new(python)
        .args([
            "-c",
            "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')",
        ])
        .output()
        .expect("python runs");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn wheel_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
}

/// The newest modification among the files that make the package: a change to any of them
/// builds it again.
fn sources_stamp(root: &Path) -> String {
    fn newest(path: &Path, newest_so_far: &mut SystemTime) {
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        if metadata.is_dir() {
            let name = path.file_name().unwrap_or_default();
            if name == "tests" || name == "__pycache__" || name == "snapshots" {
                return;
            }
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                newest(&entry.path(), newest_so_far);
            }
        } else if let Ok(modified) = metadata.modified() {
            *newest_so_far = (*newest_so_far).max(modified);
        }
    }
    let mut stamp = SystemTime::UNIX_EPOCH;
    for part in [
        "crates",
        "python",
        "build",
        "pyproject.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        newest(&root.join(part), &mut stamp);
    }
    let since = stamp
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", since.as_secs(), since.subsec_nanos())
}
