//! Running the program as `__main__` the way `python` does: a script, standard input, a
//! directory or zip with `__main__.py`, `-c CODE`, `-m module` and `-m module:function`.
//!
//! Scripts are compiled and evaluated from Rust, so no frame of ours ever shows in a
//! traceback; `-m` goes through `runpy._run_module_as_main` like `python -m`, so its
//! tracebacks match python's too.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use jurigged_develoop::{LoopName, MainSource};
use jurigged_live::python::flush_std_streams;

use super::exit::{Exit, Ran};
use super::ffi::{self, fs_decode};
use super::launch::{cwd_bytes, insert_path0, prepare_loops};
use crate::failure::{Failure, say};

pub(super) fn run_script_path(py: Python<'_>, given: &Path, loops: &[LoopName]) -> Ran {
    // python makes the script's path absolute without normalising it.
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(given))
        .unwrap_or_else(|_| given.to_path_buf());
    let absolute_bytes = absolute.as_os_str().as_bytes();
    if let Some(ran) = run_main_importer(py, absolute_bytes)? {
        return ran;
    }
    let source = match std::fs::read(&absolute) {
        Ok(source) => source,
        Err(error) => {
            let path = absolute.to_string_lossy().into_owned();
            return Err(Failure::CantOpen { path, error }.into());
        }
    };
    // sys.path[0] is the directory of the script with symlinks resolved.
    let real = std::fs::canonicalize(&absolute).unwrap_or(absolute.clone());
    let dir = real.parent().map(Path::as_os_str).unwrap_or_default();
    insert_path0(py, dir.as_bytes())?;
    let filename = fs_decode(py, absolute_bytes)?;
    jurigged_live::register_main(&filename.extract::<String>()?, &source, true);
    if !loops.is_empty() {
        prepare_loops(py, loops, Some(MainSource::File(&absolute)))?;
    }
    Ok(run_source(py, &filename, &source)?)
}

/// A directory or zip file with a `__main__.py` runs that module, as in python. Returns
/// `None` for an ordinary file.
fn run_main_importer(py: Python<'_>, path: &[u8]) -> PyResult<Option<Ran>> {
    let path = fs_decode(py, path)?;
    let sys = py.import("sys")?;
    let mut importer = None;
    for hook in sys.getattr("path_hooks")?.try_iter()? {
        // A hook refuses a path by raising; the next one is asked.
        if let Ok(found) = hook?.call1((&path,)) {
            importer = Some(found);
            break;
        }
    }
    if importer.is_none() {
        return Ok(None);
    }
    sys.getattr("path")?
        .cast_into::<PyList>()?
        .insert(0, &path)?;
    let runpy = py.import("runpy")?;
    // Look the module up first so a missing __main__ is reported under our name.
    let error_type = runpy.getattr("_Error")?;
    if let Err(err) = runpy
        .getattr("_get_main_module_details")?
        .call1((&error_type,))
    {
        if err.is_instance(py, &error_type) {
            return Ok(Some(Err(not_found(py, &err).into())));
        }
        return Err(err);
    }
    let ran = runpy
        .getattr("_run_module_as_main")?
        .call1(("__main__", false));
    Ok(Some(ran.map(|_| Exit::OK).map_err(Into::into)))
}

pub(super) fn run_stdin(py: Python<'_>) -> Ran {
    insert_path0(py, b"")?;
    let mut source = Vec::new();
    if let Err(err) = std::io::stdin().lock().read_to_end(&mut source) {
        return Err(Failure::Stdin(err).into());
    }
    let filename = PyString::new(py, "<stdin>");
    Ok(run_source(py, filename.as_any(), &source)?)
}

/// `-c CODE`, as python runs it: `sys.path[0]` is `''`, the code is compiled as
/// `<string>` in `__main__` (no `__file__`). There is no file to save, so the code itself
/// is never patched; the modules it imports are.
pub(super) fn run_command(py: Python<'_>, code: &OsString, loops: &[LoopName]) -> Ran {
    insert_path0(py, b"")?;
    // python encodes the decoded argument back to UTF-8, which fails (and is reported)
    // for bytes the locale could not decode.
    let utf8 = match fs_decode(py, code.as_bytes())?.call_method1("encode", ("utf-8",)) {
        Ok(utf8) => utf8.cast_into::<PyBytes>().map_err(PyErr::from)?,
        Err(err) => {
            say("Unable to decode the command from the command line:");
            return Err(err.into());
        }
    };
    let text = std::str::from_utf8(utf8.as_bytes()).unwrap_or_default();
    if !loops.is_empty() {
        prepare_loops(py, loops, Some(MainSource::Code(text)))?;
    }
    let globals = main_globals(py)?;
    let result = compile_command(py, text).and_then(|code| eval_main(py, &code, &globals));
    flush_std_streams(py);
    result?;
    Ok(Exit::OK)
}

/// Compiles `-c` code as python does: from text (a coding cookie in it is ignored), as
/// `<string>`; from 3.13 on its lines are kept for tracebacks, as python 3.13 keeps them.
fn compile_command<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let code = py
        .import("builtins")?
        .getattr("compile")?
        .call1((text, "<string>", "exec"))?;
    if py.version_info() >= (3, 13) {
        let linecache = py.import("linecache")?;
        if let Ok(register) = linecache.getattr("_register_code") {
            // 3.13 keys the lines by file name; 3.14 by code object.
            if py.version_info() >= (3, 14) {
                register.call1((&code, text, "<string>"))?;
            } else {
                register.call1(("<string>", text, "<string>"))?;
            }
        }
    }
    Ok(code)
}

/// Runs source code in `__main__` like `PyRun_SimpleFileObject`: `__file__`, `__cached__`
/// and `__loader__` set while it runs, output flushed after.
pub(super) fn run_source(
    py: Python<'_>,
    filename: &Bound<'_, PyAny>,
    source: &[u8],
) -> PyResult<Exit> {
    let globals = main_globals(py)?;
    let set_file = !globals.contains("__file__")?;
    if set_file {
        globals.set_item("__file__", filename)?;
        globals.set_item("__cached__", py.None())?;
    }
    let loader = py
        .import("_frozen_importlib_external")?
        .getattr("SourceFileLoader")?
        .call1(("__main__", filename))?;
    globals.set_item("__loader__", loader)?;
    let locals = main_locals(py, &globals)?;
    let result = ffi::run_file(py, filename, source, &globals, &locals);
    flush_std_streams(py);
    if set_file {
        // As in CPython, errors are ignored: the program may have deleted them itself.
        let _ = globals.del_item("__file__");
        let _ = globals.del_item("__cached__");
    }
    result.map(|()| Exit::OK)
}

/// The locals the main module's top-level code runs with: its globals, or, while the
/// develoop waits for `--loop` names to be defined or hot restart wraps the script's
/// definitions, a namespace that sees each name as it is bound.
fn main_locals<'py>(py: Python<'py>, globals: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
    if jurigged_develoop::main_loops_pending() {
        jurigged_develoop::main_namespace(py, globals)
    } else {
        Ok(globals.clone().into_any())
    }
}

/// Evaluates the main module's code with no frame of ours in its tracebacks.
fn eval_main(py: Python<'_>, code: &Bound<'_, PyAny>, globals: &Bound<'_, PyDict>) -> PyResult<()> {
    let locals = main_locals(py, globals)?;
    ffi::eval_code(py, code, globals, &locals)
}

fn main_globals(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let main = py.import("sys")?.getattr("modules")?.get_item("__main__")?;
    Ok(main.getattr("__dict__")?.cast_into::<PyDict>()?)
}

pub(super) fn run_module(py: Python<'_>, module: &str, loops: &[LoopName]) -> Ran {
    insert_path0(py, &cwd_bytes())?;
    let runpy = py.import("runpy")?;
    // Look the module up first so "No module named x" is reported under our name rather
    // than python's (runpy prefixes sys.executable).
    let error_type = runpy.getattr("_Error")?;
    let details = match runpy
        .getattr("_get_module_details")?
        .call1((module, &error_type))
    {
        Ok(details) => details,
        Err(err) if err.is_instance(py, &error_type) => return Err(not_found(py, &err).into()),
        Err(err) => return Err(err.into()),
    };
    if loops.is_empty() {
        runpy
            .getattr("_run_module_as_main")?
            .call1((module, true))?;
        return Ok(Exit::OK);
    }
    // With --loop, run it as runpy would, but with our namespace for its top-level code.
    let (_name, spec, code): (Bound<'_, PyAny>, Bound<'_, PyAny>, Bound<'_, PyAny>) =
        details.extract()?;
    let origin: Option<String> = spec.getattr("origin")?.extract()?;
    if let Some(origin) = &origin {
        // runpy's exec would have shown it to the audit hook; our own eval does not. An
        // unreadable origin is not watched, as runpy's exec would not have read it either.
        if let Ok(source) = std::fs::read(origin) {
            jurigged_live::register_main(origin, &source, false);
        }
    }
    prepare_loops(
        py,
        loops,
        origin.as_deref().map(|o| MainSource::File(Path::new(o))),
    )?;
    let sys = py.import("sys")?;
    sys.getattr("argv")?.set_item(0, spec.getattr("origin")?)?;
    let globals = main_globals(py)?;
    globals.set_item("__name__", "__main__")?;
    globals.set_item("__file__", spec.getattr("origin")?)?;
    globals.set_item("__cached__", spec.getattr("cached")?)?;
    globals.set_item("__doc__", py.None())?;
    globals.set_item("__loader__", spec.getattr("loader")?)?;
    globals.set_item("__package__", spec.getattr("parent")?)?;
    globals.set_item("__spec__", &spec)?;
    eval_main(py, &code, &globals)?;
    Ok(Exit::OK)
}

/// `-m module:function`: the module is imported under its own name and the function is
/// called without arguments. An int it returns is the exit status, like a console script.
pub(super) fn call_function(
    py: Python<'_>,
    module: &str,
    function: &str,
    loops: &[LoopName],
) -> Ran {
    insert_path0(py, &cwd_bytes())?;
    let imported = match py.import(module) {
        Ok(imported) => imported.into_any(),
        Err(err) if is_missing_module(py, &err, module) => {
            return Err(not_found(py, &err).into());
        }
        Err(err) => return Err(err.into()),
    };
    if !loops.is_empty() {
        // Names without a module are the called module's.
        let loops: Vec<LoopName> = loops
            .iter()
            .map(|name| LoopName {
                module: name.module.clone().or_else(|| Some(module.to_string())),
                ..name.clone()
            })
            .collect();
        prepare_loops(py, &loops, None)?;
    }
    let mut target = imported;
    for part in function.split('.') {
        target = match target.getattr(part) {
            Ok(found) => found,
            Err(_) => {
                let (module, function) = (module.to_string(), function.to_string());
                return Err(Failure::NoFunction { module, function }.into());
            }
        };
    }
    let result = target.call0()?;
    flush_std_streams(py);
    if let Ok(code) = result.extract::<i32>()
        && !result.is_instance_of::<pyo3::types::PyBool>()
    {
        return Ok(Exit::code(code));
    }
    Ok(Exit::OK)
}

/// True when `err` says that `module` itself (or a parent package) does not exist, as
/// opposed to an import failing inside the module.
fn is_missing_module(py: Python<'_>, err: &PyErr, module: &str) -> bool {
    if !err.is_instance_of::<pyo3::exceptions::PyModuleNotFoundError>(py) {
        return false;
    }
    let missing: Option<String> = err
        .value(py)
        .getattr("name")
        .ok()
        .and_then(|name| name.extract().ok());
    missing.is_some_and(|name| module == name || module.starts_with(&format!("{name}.")))
}

/// A program that is not there, in python's words (`No module named x`).
fn not_found(py: Python<'_>, err: &PyErr) -> Failure {
    let text = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    Failure::NotFound(text)
}
