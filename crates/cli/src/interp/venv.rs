//! Which `python` the embedded interpreter pretends to be.
//!
//! CPython derives `sys.prefix`, the stdlib and site-packages from `PyConfig.executable`.
//! Pointing it at a virtual environment's `bin/python` makes that environment's packages
//! importable, exactly as running that environment's `python` would.

use std::path::{Path, PathBuf};

/// The interpreter's identity: the executable to pose as, and why a virtual environment
/// that was found is not used.
#[derive(Debug, PartialEq, Eq)]
pub struct Choice {
    pub executable: PathBuf,
    pub refused: Option<Refused>,
}

/// A virtual environment found but not used: jurigged then poses as the Python it was
/// built against, and says so.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "ignoring virtual environment {}: it is for Python {version}, \
         but jurigged embeds Python {EMBEDDED_VERSION}",
        .venv.display()
    )]
    OtherPython { venv: PathBuf, version: String },
    #[error("ignoring virtual environment {}: {reason}", .venv.display())]
    Unreadable { venv: PathBuf, reason: String },
}

/// The Python version jurigged was built against, `major.minor`.
pub const EMBEDDED_VERSION: &str = env!("JURIGGED_PYTHON_VERSION");
/// The interpreter pyo3 built against; the default identity outside a virtual environment.
pub const BUILD_EXECUTABLE: &str = env!("JURIGGED_PYTHON_EXECUTABLE");

/// Chooses the executable: `$VIRTUAL_ENV/bin/python`, else the venv our own binary lives in
/// (`<venv>/bin/jurigged`), else the Python we were built against.
pub fn choose(virtual_env: Option<&Path>, own_exe: Option<&Path>) -> Choice {
    let fallback = PathBuf::from(BUILD_EXECUTABLE);
    let candidate = match virtual_env {
        Some(venv) => Some(venv.to_path_buf()),
        None => own_exe
            .and_then(Path::parent)
            .and_then(Path::parent)
            .filter(|root| root.join("pyvenv.cfg").is_file())
            .map(Path::to_path_buf),
    };
    let Some(venv) = candidate else {
        return Choice {
            executable: fallback,
            refused: None,
        };
    };
    let refused = match venv_version(&venv) {
        Ok(version) if major_minor(&version) == EMBEDDED_VERSION => {
            return Choice {
                executable: venv.join("bin").join("python"),
                refused: None,
            };
        }
        Ok(version) => Refused::OtherPython {
            venv,
            version: major_minor(&version),
        },
        Err(reason) => Refused::Unreadable { venv, reason },
    };
    Choice {
        executable: fallback,
        refused: Some(refused),
    }
}

/// Reads the Python version a venv was made with, from its `pyvenv.cfg`.
fn venv_version(venv: &Path) -> Result<String, String> {
    let cfg = venv.join("pyvenv.cfg");
    let text =
        std::fs::read_to_string(&cfg).map_err(|_| format!("no readable {}", cfg.display()))?;
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| matches!(key.trim(), "version" | "version_info"))
        .map(|(_, value)| value.trim().to_string())
        .ok_or_else(|| format!("{} does not say which Python it is for", cfg.display()))
}

fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venv_with(cfg: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyvenv.cfg"), cfg).unwrap();
        dir
    }

    #[test]
    fn matching_venv_is_used() {
        let venv = venv_with(&format!("home = /x\nversion = {EMBEDDED_VERSION}.4\n"));
        let choice = choose(Some(venv.path()), None);
        assert_eq!(choice.executable, venv.path().join("bin/python"));
        assert_eq!(choice.refused, None);
    }

    #[test]
    fn other_version_is_refused_with_both_versions_named() {
        let venv = venv_with("version_info = 2.7.18\n");
        let choice = choose(Some(venv.path()), None);
        assert_eq!(choice.executable, PathBuf::from(BUILD_EXECUTABLE));
        let warning = choice.refused.unwrap().to_string();
        assert!(warning.contains("Python 2.7"), "{warning}");
        assert!(
            warning.contains(&format!("Python {EMBEDDED_VERSION}")),
            "{warning}"
        );
    }

    #[test]
    fn binary_inside_a_venv_uses_it() {
        let venv = venv_with(&format!("version = {EMBEDDED_VERSION}.0\n"));
        let exe = venv.path().join("bin/jurigged");
        let choice = choose(None, Some(&exe));
        assert_eq!(choice.executable, venv.path().join("bin/python"));
    }

    #[test]
    fn no_venv_means_the_build_python() {
        let choice = choose(None, Some(Path::new("/usr/local/bin/jurigged")));
        assert_eq!(choice.executable, PathBuf::from(BUILD_EXECUTABLE));
        assert_eq!(choice.refused, None);
    }
}
