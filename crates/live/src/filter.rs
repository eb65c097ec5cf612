//! Which module files are watched (`-w PATH`, default: the current directory).
//!
//! Paths are normalised (symlinks and `..` resolved) before they are matched, so a module
//! imported through `pkg/../pkg/mod.py` or a symlink is the same file as its real path.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::watch::{Stamp, stamp_from};

/// A `-w` (or `jurigged.watch()`) pattern that is not a valid glob.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("invalid --watch pattern '{spec}': {source}")]
    Invalid {
        spec: String,
        source: globset::Error,
    },
    #[error("invalid --watch pattern: {0}")]
    Set(#[source] globset::Error),
}

/// The set of watched files.
#[derive(Debug)]
pub struct WatchFilter {
    /// Directories watched recursively.
    directories: Vec<PathBuf>,
    /// Files watched one by one.
    files: Vec<PathBuf>,
    globs: GlobSet,
    /// `-w /`: every module.
    everything: bool,
    /// Only the default filter skips installed packages and the standard library.
    skip_installed: bool,
    /// Directories of installed code (site-packages, the stdlib) skipped by default.
    installed: Vec<PathBuf>,
    /// Directories already resolved, as imported → real path.
    resolved: Mutex<HashMap<PathBuf, PathBuf>>,
}

impl WatchFilter {
    /// Builds the filter for `-w` arguments (`specs`), relative to `cwd`. With no spec,
    /// the current directory is watched, recursively, except installed packages.
    pub fn new(
        specs: &[String],
        cwd: &Path,
        installed: Vec<PathBuf>,
    ) -> Result<Self, PatternError> {
        let mut filter = WatchFilter {
            directories: Vec::new(),
            files: Vec::new(),
            globs: GlobSet::empty(),
            everything: false,
            skip_installed: specs.is_empty(),
            resolved: Mutex::default(),
            installed: installed
                .iter()
                .flat_map(|p| [lexically_clean(p), normalise(p)])
                .collect(),
        };
        if specs.is_empty() {
            filter.directories.push(normalise(cwd));
            return Ok(filter);
        }
        let mut globs = GlobSetBuilder::new();
        for spec in specs {
            let expanded = expand_home(spec);
            let absolute = cwd.join(&expanded);
            if absolute == Path::new("/") {
                filter.everything = true;
            } else if absolute.is_dir() {
                filter.directories.push(normalise(&absolute));
            } else if is_glob(&expanded) {
                let pattern = normalise_glob(&absolute);
                let glob = Glob::new(&pattern).map_err(|source| PatternError::Invalid {
                    spec: spec.clone(),
                    source,
                })?;
                globs.add(glob);
            } else {
                filter.files.push(normalise(&absolute));
            }
        }
        filter.globs = globs.build().map_err(PatternError::Set)?;
        Ok(filter)
    }

    /// Whether the file at `path` (any form) is watched.
    pub fn matches(&self, path: &Path) -> bool {
        self.watched(path).is_some()
    }

    /// The normalised path of a watched file, or `None` when it is not watched.
    pub fn watched(&self, path: &Path) -> Option<PathBuf> {
        self.watched_with_stamp(path).map(|(path, _)| path)
    }

    /// `watched`, with the file's stamp when resolving it already told (a regular file).
    pub fn watched_with_stamp(&self, path: &Path) -> Option<(PathBuf, Option<Stamp>)> {
        let installed = |path: &Path| self.installed.iter().any(|dir| path.starts_with(dir));
        // Most modules loaded at start are installed code: skip them before resolving
        // symlinks, which costs a system call per path component.
        if self.skip_installed && installed(&lexically_clean(path)) {
            return None;
        }
        let (path, stamp) = self.resolve(path);
        if self.skip_installed && installed(&path) {
            return None;
        }
        let watched = self.everything
            || self.files.contains(&path)
            || self.directories.iter().any(|dir| path.starts_with(dir))
            || self.globs.is_match(&path);
        watched.then_some((path, stamp))
    }

    /// `normalise`, resolving each directory once: a package of 2,000 modules costs one
    /// `lstat` a module, not a `readlink` for each component of each path.
    /// Also gives the file's stamp, when the `lstat` found a regular file.
    fn resolve(&self, path: &Path) -> (PathBuf, Option<Stamp>) {
        let plain = path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let (Some(directory), Some(name)) = (path.parent(), path.file_name()) else {
            return (normalise(path), None);
        };
        // `lstat`: a symlink is no regular file, and takes the full resolution.
        let stamp = plain
            .then(|| std::fs::symlink_metadata(path).ok())
            .flatten()
            .and_then(|metadata| stamp_from(&metadata));
        let Some(stamp) = stamp else {
            return (normalise(path), None);
        };
        let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        let real = resolved
            .entry(directory.to_path_buf())
            .or_insert_with(|| normalise(directory));
        (real.join(name), Some(stamp))
    }
}

/// Resolves symlinks and `..`; a path that does not exist is only made lexically clean.
pub fn normalise(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| lexically_clean(path))
}

fn lexically_clean(path: &Path) -> PathBuf {
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean
}

fn is_glob(spec: &str) -> bool {
    spec.contains(['*', '?', '['])
}

/// Normalises the literal directory in front of a glob's first wildcard.
fn normalise_glob(pattern: &Path) -> String {
    let text = pattern.to_string_lossy();
    let wildcard = text.find(['*', '?', '[']).unwrap_or(text.len());
    let split = text[..wildcard].rfind('/').unwrap_or(0);
    let (prefix, rest) = text.split_at(split);
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        normalise(Path::new(prefix)).to_string_lossy().into_owned()
    };
    format!("{prefix}{rest}")
}

fn expand_home(spec: &str) -> String {
    match (spec.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => spec.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "app.py",
            "pkg/mod.py",
            "pkg/sub/deep.py",
            "other/x.py",
            "venv/site/lib.py",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        dir
    }

    #[test]
    fn default_is_the_current_directory_without_installed_packages() {
        let dir = tree();
        let root = dir.path();
        let filter = WatchFilter::new(&[], root, vec![root.join("venv/site")]).unwrap();
        assert!(filter.matches(&root.join("app.py")));
        assert!(filter.matches(&root.join("pkg/sub/deep.py")));
        assert!(!filter.matches(&root.join("venv/site/lib.py")));
        assert!(!filter.matches(Path::new("/usr/lib/python3/os.py")));
    }

    #[test]
    fn directories_files_and_globs() {
        let dir = tree();
        let root = dir.path();
        let specs = ["pkg".to_string(), "app.py".into(), "other/*.py".into()];
        let filter = WatchFilter::new(&specs, root, vec![]).unwrap();
        assert!(filter.matches(&root.join("pkg/sub/deep.py")));
        assert!(filter.matches(&root.join("app.py")));
        assert!(filter.matches(&root.join("other/x.py")));
        assert!(!filter.matches(&root.join("venv/site/lib.py")));
        let recursive = WatchFilter::new(&["**/deep.py".into()], root, vec![]).unwrap();
        assert!(recursive.matches(&root.join("pkg/sub/deep.py")));
    }

    #[test]
    fn paths_are_normalised_before_matching() {
        let dir = tree();
        let root = dir.path();
        std::os::unix::fs::symlink(root.join("pkg"), root.join("other/link")).unwrap();
        let filter = WatchFilter::new(&["pkg".into()], root, vec![]).unwrap();
        assert!(filter.matches(&root.join("pkg/../pkg/mod.py")));
        assert!(filter.matches(&root.join("other/link/mod.py")));
    }

    #[test]
    fn slash_watches_everything() {
        let dir = tree();
        let filter = WatchFilter::new(&["/".into()], dir.path(), vec![]).unwrap();
        assert!(filter.matches(Path::new("/usr/lib/python3/os.py")));
    }

    #[test]
    fn bad_globs_are_reported() {
        let dir = tree();
        let error = WatchFilter::new(&["src/[".into()], dir.path(), vec![])
            .unwrap_err()
            .to_string();
        assert!(error.contains("src/["), "{error}");
    }
}
