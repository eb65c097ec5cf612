//! What runs as `__main__`, and the two command lines Python shows it: `sys.argv`, as
//! `python` would set it, and `sys.orig_argv`, the `python` command that runs the same
//! program.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::ffi::fs_decode;

/// What runs as `__main__`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `jurigged path/app.py` (the path as given).
    Script(PathBuf),
    /// `jurigged -` or `jurigged < program.py`: the program is read from standard input.
    Stdin,
    /// `jurigged -m package.module`.
    Module(String),
    /// `jurigged -c CODE`.
    Command(OsString),
    /// `jurigged -m package.module:function`: import the module, call the function.
    Call { module: String, function: String },
    /// `jurigged` at a terminal: the interactive prompt.
    Repl,
}

/// `sys.argv` for a target, as `python` would set it. (A script named `-` keeps its name:
/// the caller passes it as the first argument.)
pub fn program_argv(target: &Target, args: &[OsString], own_name: &OsString) -> Vec<OsString> {
    let first = match target {
        Target::Script(path) => path.as_os_str().to_owned(),
        Target::Stdin | Target::Repl => OsString::new(),
        // runpy replaces "-m" with the module's file once it is found.
        Target::Module(_) => OsString::from("-m"),
        Target::Command(_) => OsString::from("-c"),
        Target::Call { .. } => own_name.clone(),
    };
    std::iter::once(first).chain(args.iter().cloned()).collect()
}

/// The command line that runs this program under plain `python`: `sys.orig_argv`.
/// Reloaders (werkzeug's, Django's) restart a program with `[sys.executable,
/// *sys.orig_argv[1:]]`, so it must hold python's options, never ours.
pub fn python_command_line(
    executable: &Path,
    target: &Target,
    argv: &[OsString],
    interactive: bool,
) -> Vec<OsString> {
    let mut line = vec![executable.as_os_str().to_owned()];
    if interactive {
        line.push("-i".into());
    }
    let args = argv.iter().skip(1).cloned();
    match target {
        Target::Script(path) => line.push(path.as_os_str().to_owned()),
        Target::Module(module) => line.extend(["-m".into(), OsString::from(module)]),
        Target::Command(code) => line.extend(["-c".into(), code.clone()]),
        Target::Call { module, function } => {
            // python has no `-m module:function`; this does the same (an int result is
            // the exit status, anything else is ignored).
            let code = format!(
                "import importlib, sys; r = importlib.import_module({module:?}).{function}(); \
                 sys.exit(r if isinstance(r, int) else 0)"
            );
            line.extend(["-c".into(), code.into()]);
        }
        Target::Stdin | Target::Repl => {
            if argv.first().is_some_and(|first| first == "-") {
                line.push("-".into());
            }
        }
    }
    line.extend(args);
    line
}

pub(super) fn set_orig_argv(py: Python<'_>, argv: &[OsString]) -> PyResult<()> {
    let list = PyList::empty(py);
    for arg in argv {
        list.append(fs_decode(py, arg.as_bytes())?)?;
    }
    py.import("sys")?.setattr("orig_argv", list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_follows_python() {
        let args = vec![OsString::from("a"), OsString::from("-v")];
        let own = OsString::from("/bin/jurigged");
        let script = program_argv(&Target::Script("s.py".into()), &args, &own);
        assert_eq!(script, ["s.py", "a", "-v"]);
        assert_eq!(
            program_argv(&Target::Module("m".into()), &args, &own)[0],
            "-m"
        );
        assert_eq!(program_argv(&Target::Repl, &[], &own), [""]);
    }

    #[test]
    fn orig_argv_is_a_python_command() {
        let python = Path::new("/usr/bin/python3");
        let argv = [OsString::from("-m"), OsString::from("x")];
        let line = python_command_line(python, &Target::Module("pkg.app".into()), &argv, true);
        assert_eq!(line, ["/usr/bin/python3", "-i", "-m", "pkg.app", "x"]);
        let stdin = python_command_line(python, &Target::Stdin, &[OsString::from("-")], false);
        assert_eq!(stdin, ["/usr/bin/python3", "-"]);
    }
}
