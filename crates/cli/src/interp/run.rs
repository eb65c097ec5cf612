//! Running the program as `__main__` the way `python` does: a script, standard input, a
//! directory or zip with `__main__.py`, `-m module`, `-m module:function`, and the REPL.
//!
//! Scripts are compiled and evaluated from Rust, so no frame of ours ever shows in a
//! traceback; `-m` goes through `runpy._run_module_as_main` like `python -m`, so its
//! tracebacks match python's too.

use std::ffi::{CString, OsString};
use std::io::{IsTerminal, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use jurigged_live::python::flush_std_streams;

use jurigged_develoop::{LoopName, MainSource};

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

/// How the process should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    /// An uncaught KeyboardInterrupt ends the process by SIGINT, as python does, so the
    /// shell sees "killed by Ctrl-C" (status 130).
    pub keyboard_interrupt: bool,
}

impl Exit {
    const OK: Exit = Exit {
        code: 0,
        keyboard_interrupt: false,
    };

    fn code(code: i32) -> Exit {
        Exit {
            code,
            keyboard_interrupt: false,
        }
    }
}

/// Everything needed to run the program once the interpreter is up.
#[derive(Debug)]
pub struct Launch {
    pub target: Target,
    /// `-i`: the prompt after the program, in its namespace.
    pub interactive: bool,
    /// `sys.orig_argv`: the command line `python` would have been given for this program
    /// (see `python_command_line`).
    pub orig_argv: Vec<OsString>,
    /// `--loop` / `--xloop` names.
    pub loops: Vec<LoopName>,
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

/// Runs the program and, with `-i`, the prompt after it. Returns how the process should end.
pub fn run(py: Python<'_>, launch: &Launch) -> Exit {
    if let Err(err) = set_orig_argv(py, &launch.orig_argv) {
        err.print(py);
    }
    let loops = &launch.loops;
    let outcome = match &launch.target {
        Target::Script(path) => run_script_path(py, path, loops),
        Target::Stdin | Target::Repl if !loops.is_empty() => {
            match prepare_loops_from_cwd(py, loops) {
                Ok(()) if matches!(launch.target, Target::Repl) => return run_repl(py, true),
                Ok(()) => run_stdin(py),
                Err(err) => Err(err),
            }
        }
        Target::Stdin => run_stdin(py),
        Target::Module(module) => run_module(py, module, loops),
        Target::Command(code) => run_command(py, code, loops),
        Target::Call { module, function } => call_function(py, module, function, loops),
        Target::Repl => return run_repl(py, true),
    };
    // `-i` or PYTHONINSPECT at start: SystemExit does not end the process before the prompt.
    let inspect = launch.interactive || sys_flag(py, "inspect");
    let exit = match outcome {
        Ok(exit) => exit,
        Err(err) if err.is_instance_of::<LoopError>(py) => {
            let _ = writeln!(std::io::stderr(), "{}", err.value(py));
            return Exit::code(1);
        }
        // Without inspect mode SystemExit ends the process at once, prompt or not.
        Err(err) if !inspect && err.is_instance_of::<PySystemExit>(py) => {
            return report_uncaught(py, err, false);
        }
        Err(err) => report_uncaught(py, err, inspect),
    };
    // Like python, a program may ask for the prompt by setting PYTHONINSPECT itself; the
    // prompt needs a terminal unless -i forces it.
    let wants_prompt = inspect || env_var_set(py, "PYTHONINSPECT");
    let can_prompt = launch.interactive || std::io::stdin().is_terminal();
    if wants_prompt && can_prompt {
        if let Target::Call { module, .. } = &launch.target {
            // The prompt runs in the called module's namespace, as in jurigged 0.6.
            if let Err(err) = use_module_as_main(py, module) {
                err.print(py);
            }
        }
        return run_repl(py, false);
    }
    exit
}

/// A `sys.flags` field, false if unreadable.
fn sys_flag(py: Python<'_>, name: &str) -> bool {
    py.import("sys")
        .and_then(|sys| sys.getattr("flags")?.getattr(name)?.is_truthy())
        .unwrap_or(false)
}

/// An environment variable python honours, unless `-E`/`-I` semantics say to ignore them.
fn env_var_set(py: Python<'_>, name: &str) -> bool {
    !sys_flag(py, "ignore_environment") && std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

fn set_orig_argv(py: Python<'_>, argv: &[OsString]) -> PyResult<()> {
    let list = PyList::empty(py);
    for arg in argv {
        list.append(fs_decode(py, arg.as_bytes())?)?;
    }
    py.import("sys")?.setattr("orig_argv", list)
}

/// Decodes bytes from the OS like Python does (`os.fsdecode`, surrogateescape).
fn fs_decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: the pointer and length describe `bytes`, which outlives the call.
    unsafe {
        let decoded = ffi::PyUnicode_DecodeFSDefaultAndSize(
            bytes.as_ptr().cast(),
            bytes.len() as ffi::Py_ssize_t,
        );
        Bound::from_owned_ptr_or_err(py, decoded)
    }
}

/// Inserts `path` at `sys.path[0]` unless `-P`/PYTHONSAFEPATH asks not to.
fn insert_path0(py: Python<'_>, path: &[u8]) -> PyResult<()> {
    // sys.flags.safe_path exists from 3.11 on; older Pythons always insert.
    if sys_flag(py, "safe_path") {
        return Ok(());
    }
    py.import("sys")?
        .getattr("path")?
        .cast_into::<PyList>()?
        .insert(0, fs_decode(py, path)?)
}

fn cwd_bytes() -> Vec<u8> {
    std::env::current_dir()
        .map(|dir| dir.into_os_string().as_bytes().to_vec())
        .unwrap_or_default()
}

/// Sets up `--loop` names; a name that names nothing ends the run with one line.
/// Before the program on stdin or at the prompt runs: its modules are found from the
/// current directory (`sys.path[0]` is `''` then), so the loop's are too.
fn prepare_loops_from_cwd(py: Python<'_>, loops: &[LoopName]) -> PyResult<()> {
    let path = py.import("sys")?.getattr("path")?;
    path.call_method1("insert", (0, ""))?;
    let prepared = prepare_loops(py, loops, None);
    // run_stdin and run_repl put it there themselves, as python does.
    path.call_method1("remove", ("",))?;
    prepared
}

fn prepare_loops(py: Python<'_>, loops: &[LoopName], main: Option<MainSource>) -> PyResult<()> {
    jurigged_develoop::prepare_loops(py, loops, main).map_err(LoopError::new_err)
}

pyo3::create_exception!(jurigged, LoopError, pyo3::exceptions::PyException);

fn run_script_path(py: Python<'_>, given: &Path, loops: &[LoopName]) -> PyResult<Exit> {
    // python makes the script's path absolute without normalising it.
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(given))
        .unwrap_or_else(|_| given.to_path_buf());
    let absolute_bytes = absolute.as_os_str().as_bytes();
    if let Some(exit) = run_main_importer(py, absolute_bytes)? {
        return Ok(exit);
    }
    let source = match std::fs::read(&absolute) {
        Ok(source) => source,
        Err(err) => {
            let mut stderr = std::io::stderr();
            let _ = writeln!(
                stderr,
                "jurigged: can't open file {}: {}",
                py_repr(&absolute.to_string_lossy()),
                errno_text(&err)
            );
            return Ok(Exit::code(2));
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
    run_source(py, &filename, &source)
}

/// A directory or zip file with a `__main__.py` runs that module, as in python. Returns
/// `None` for an ordinary file.
fn run_main_importer(py: Python<'_>, path: &[u8]) -> PyResult<Option<Exit>> {
    let path = fs_decode(py, path)?;
    let sys = py.import("sys")?;
    let mut importer = None;
    for hook in sys.getattr("path_hooks")?.try_iter()? {
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
            return Ok(Some(report_startup_error(py, &err)));
        }
        return Err(err);
    }
    runpy
        .getattr("_run_module_as_main")?
        .call1(("__main__", false))?;
    Ok(Some(Exit::OK))
}

fn run_stdin(py: Python<'_>) -> PyResult<Exit> {
    insert_path0(py, b"")?;
    let mut source = Vec::new();
    if let Err(err) = std::io::stdin().lock().read_to_end(&mut source) {
        let _ = writeln!(
            std::io::stderr(),
            "jurigged: can't read standard input: {err}"
        );
        return Ok(Exit::code(1));
    }
    let filename = PyString::new(py, "<stdin>");
    run_source(py, filename.as_any(), &source)
}

/// `-c CODE`, as python runs it: `sys.path[0]` is `''`, the code is compiled as
/// `<string>` in `__main__` (no `__file__`). There is no file to save, so the code itself
/// is never patched; the modules it imports are.
fn run_command(py: Python<'_>, code: &OsString, loops: &[LoopName]) -> PyResult<Exit> {
    insert_path0(py, b"")?;
    // python encodes the decoded argument back to UTF-8, which fails (and is reported)
    // for bytes the locale could not decode.
    let utf8 = match fs_decode(py, code.as_bytes())?.call_method1("encode", ("utf-8",)) {
        Ok(utf8) => utf8.cast_into::<PyBytes>()?,
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "Unable to decode the command from the command line:"
            );
            return Err(err);
        }
    };
    let text = std::str::from_utf8(utf8.as_bytes()).unwrap_or_default();
    if !loops.is_empty() {
        prepare_loops(py, loops, Some(MainSource::Code(text)))?;
    }
    let globals = main_module(py)?
        .getattr("__dict__")?
        .cast_into::<PyDict>()?;
    let result = compile_command(py, text).and_then(|code| eval_main(py, &code, &globals));
    flush_std_streams(py);
    result.map(|()| Exit::OK)
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
fn run_source(py: Python<'_>, filename: &Bound<'_, PyAny>, source: &[u8]) -> PyResult<Exit> {
    let main = main_module(py)?;
    let globals = main.getattr("__dict__")?.cast_into::<PyDict>()?;
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
    let result = compile_and_eval(py, filename, source, &globals);
    flush_std_streams(py);
    if set_file {
        let _ = globals.del_item("__file__");
        let _ = globals.del_item("__cached__");
    }
    result.map(|()| Exit::OK)
}

/// Compiles and runs source with python's own file reader, as `python script.py` does: the
/// coding cookie, a BOM, NUL bytes and non-UTF-8 bytes are handled, and reported, in
/// python's words (`SyntaxError: Non-UTF-8 code starting with '\\x89' in file ...`).
fn compile_and_eval(
    py: Python<'_>,
    filename: &Bound<'_, PyAny>,
    source: &[u8],
    globals: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let locals = main_locals(py, globals)?;
    // SAFETY: `filename` is a str; encoding it gives a new bytes object or an error.
    let encoded = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyUnicode_EncodeFSDefault(filename.as_ptr()))?
    };
    let name = CString::new(encoded.cast_into::<PyBytes>()?.as_bytes().to_vec())
        .map_err(|_| pyo3::exceptions::PyValueError::new_err("embedded null byte"))?;
    let stream = memory_stream(source)?;
    // SAFETY: PyRun_FileExFlags closes the stream (closeit = 1). globals is a dict and
    // locals a mapping; the GIL is held.
    unsafe {
        let result = ffi::PyRun_FileExFlags(
            stream,
            name.as_ptr(),
            ffi::Py_file_input,
            globals.as_ptr(),
            locals.as_ptr(),
            1,
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, result).map(drop)
    }
}

/// A C stream reading `bytes` (the source we read, and watch). It has a real file
/// descriptor, which python's reader needs for a coding cookie (it reopens the descriptor
/// with `io.open`).
fn memory_stream(bytes: &[u8]) -> std::io::Result<*mut libc::FILE> {
    use std::io::Seek;
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: a new anonymous file, owned by the File below.
    let fd = unsafe { libc::memfd_create(c"jurigged-source".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and belongs to no one else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    file.rewind()?;
    let fd = file.into_raw_fd();
    // SAFETY: the stream takes ownership of `fd`.
    let stream = unsafe { libc::fdopen(fd, c"rb".as_ptr()) };
    if stream.is_null() {
        let error = std::io::Error::last_os_error();
        // SAFETY: fdopen failed, so `fd` is still ours to close.
        unsafe { libc::close(fd) };
        return Err(error);
    }
    Ok(stream.cast())
}

/// The locals the main module's top-level code runs with: its globals, or with `--loop`
/// names still to define, a namespace that redirects them as soon as they are bound.
fn main_locals<'py>(py: Python<'py>, globals: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
    if jurigged_develoop::main_loops_pending() {
        jurigged_develoop::main_namespace(py, globals)
    } else {
        Ok(globals.clone().into_any())
    }
}

/// Evaluates the main module's code. Evaluating from Rust adds no Python frame, so
/// tracebacks start at the program like python's.
fn eval_main(py: Python<'_>, code: &Bound<'_, PyAny>, globals: &Bound<'_, PyDict>) -> PyResult<()> {
    let locals = main_locals(py, globals)?;
    // SAFETY: `code` is a code object; `globals` is a dict and `locals` a mapping.
    unsafe {
        let result = ffi::PyEval_EvalCode(code.as_ptr(), globals.as_ptr(), locals.as_ptr());
        Bound::from_owned_ptr_or_err(py, result).map(drop)
    }
}

fn main_module(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("sys")?.getattr("modules")?.get_item("__main__")
}

fn run_module(py: Python<'_>, module: &str, loops: &[LoopName]) -> PyResult<Exit> {
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
        Err(err) if err.is_instance(py, &error_type) => return Ok(report_startup_error(py, &err)),
        Err(err) => return Err(err),
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
        // runpy's exec would have shown it to the audit hook; our own eval does not.
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
    let globals = main_module(py)?
        .getattr("__dict__")?
        .cast_into::<PyDict>()?;
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
fn call_function(
    py: Python<'_>,
    module: &str,
    function: &str,
    loops: &[LoopName],
) -> PyResult<Exit> {
    insert_path0(py, &cwd_bytes())?;
    let imported = match py.import(module) {
        Ok(imported) => imported.into_any(),
        Err(err) if is_missing_module(py, &err, module) => {
            return Ok(report_startup_error(py, &err));
        }
        Err(err) => return Err(err),
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
                let _ = writeln!(
                    std::io::stderr(),
                    "jurigged: module '{module}' has no function '{function}'"
                );
                return Ok(Exit::code(1));
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

fn use_module_as_main(py: Python<'_>, module: &str) -> PyResult<()> {
    let imported = py.import(module)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("__main__", imported)
}

/// Prints a one-line startup error (`jurigged: No module named x`) and returns status 1.
fn report_startup_error(py: Python<'_>, err: &PyErr) -> Exit {
    let text = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "jurigged: {text}");
    Exit::code(1)
}

/// Reports an exception that escaped the program, like `PyErr_Print`: SystemExit gives its
/// status, anything else prints its traceback through `sys.excepthook` and gives 1. With
/// `-i` the interpreter runs in inspect mode, so SystemExit is printed like any error.
fn report_uncaught(py: Python<'_>, err: PyErr, interactive: bool) -> Exit {
    if err.is_instance_of::<PySystemExit>(py) && !interactive {
        return Exit::code(system_exit_status(py, err.value(py)));
    }
    let keyboard_interrupt = err.is_instance_of::<PyKeyboardInterrupt>(py);
    print_exception(py, err);
    Exit {
        code: 1,
        keyboard_interrupt,
    }
}

/// Prints an exception through `sys.excepthook` and records it in `sys.last_value`.
fn print_exception(py: Python<'_>, err: PyErr) {
    let value = err.into_value(py).into_bound(py).into_any();
    let mut seen = std::collections::HashSet::new();
    if let Err(error) = drop_own_frames(&value, &mut seen) {
        error.print(py);
    }
    PyErr::from_value(value).restore(py);
    // SAFETY: an exception is set just above; PyErr_PrintEx(1) consumes it.
    unsafe { ffi::PyErr_PrintEx(1) };
    flush_std_streams(py);
}

/// Takes jurigged's own frames (`<jurigged: …>` code: hot restart's wrappers, calls
/// forwarded to rebuilt functions) out of an exception's traceback and those of its
/// causes and contexts: an uncaught error shows the program's frames only.
fn drop_own_frames<'py>(
    error: &Bound<'py, PyAny>,
    seen: &mut std::collections::HashSet<usize>,
) -> PyResult<()> {
    if error.is_none() || !seen.insert(error.as_ptr() as usize) {
        return Ok(());
    }
    let is_own = |entry: &Bound<'py, PyAny>| -> PyResult<bool> {
        let filename = entry
            .getattr("tb_frame")?
            .getattr("f_code")?
            .getattr("co_filename")?;
        Ok(filename.extract::<String>()?.starts_with("<jurigged: "))
    };
    let skip = |mut entry: Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
        while !entry.is_none() && is_own(&entry)? {
            entry = entry.getattr("tb_next")?;
        }
        Ok(entry)
    };
    let head = skip(error.getattr("__traceback__")?)?;
    error.setattr("__traceback__", &head)?;
    let mut entry = head;
    while !entry.is_none() {
        let next = skip(entry.getattr("tb_next")?)?;
        entry.setattr("tb_next", &next)?;
        entry = next;
    }
    drop_own_frames(&error.getattr("__cause__")?, seen)?;
    drop_own_frames(&error.getattr("__context__")?, seen)
}

/// The exit status of a SystemExit, as `_Py_HandleSystemExit` computes it: `None` is 0, an
/// int is itself, anything else is printed to stderr and gives 1.
fn system_exit_status(py: Python<'_>, value: &Bound<'_, PyAny>) -> i32 {
    let code = value.getattr("code").unwrap_or_else(|_| value.clone());
    if code.is_none() {
        return 0;
    }
    if code.is_instance_of::<pyo3::types::PyInt>() {
        // C's (int)PyLong_AsLong: wraps like python does for huge values.
        return code.extract::<i64>().map(|c| c as i32).unwrap_or(-1);
    }
    let written = py.import("sys").and_then(|sys| {
        let stderr = sys.getattr("stderr")?;
        if stderr.is_none() {
            let _ = writeln!(std::io::stderr(), "{code}");
            return Ok(());
        }
        stderr.call_method1("write", (code.str()?,))?;
        stderr.call_method1("write", ("\n",))?;
        Ok(())
    });
    if let Err(err) = written {
        err.print(py);
    }
    1
}

unsafe extern "C" {
    /// The C library's standard input, which CPython's REPL reads (with readline on a tty).
    static mut stdin: *mut libc::FILE;
}

/// The interactive prompt, as `python` runs it: banner (for a bare `jurigged` only),
/// readline, PYTHONSTARTUP, `sys.__interactivehook__`, then the read-eval-print loop.
fn run_repl(py: Python<'_>, bare: bool) -> Exit {
    let stdin_tty = std::io::stdin().is_terminal();
    if bare {
        let _ = insert_path0(py, b"");
        if !sys_flag(py, "quiet") {
            let version = Python::version_str();
            let platform = py
                .import("sys")
                .and_then(|sys| sys.getattr("platform")?.extract::<String>())
                .unwrap_or_default();
            let _ = write!(
                std::io::stderr(),
                "Python {version} on {platform}\nType \"help\", \"copyright\", \"credits\" or \"license\" for more information.\n"
            );
        }
    }
    if stdin_tty && py.import("readline").is_err() {
        // SAFETY: clearing the failed optional import.
        unsafe { ffi::PyErr_Clear() };
    }
    if bare {
        run_startup_file(py);
    }
    if let Ok(sys) = py.import("sys")
        && let Ok(hook) = sys.getattr("__interactivehook__")
        && let Err(err) = hook.call0()
    {
        err.print(py);
    }
    leave_inspect_mode();
    #[cfg(Py_3_13)]
    if stdin_tty && !env_var_set(py, "PYTHON_BASIC_REPL") {
        // Python 3.13's own prompt (colour, multi-line editing), as `python3.13` starts it.
        let console = py
            .import("_pyrepl.main")
            .and_then(|module| module.getattr("interactive_console")?.call0());
        return match console {
            Ok(_) => Exit::OK,
            Err(err) => report_uncaught(py, err, false),
        };
    }
    let filename = CString::from(c"<stdin>");
    let mut flags = ffi::PyCompilerFlags {
        cf_flags: 0,
        cf_feature_version: py.version_info().minor as i32,
    };
    // SAFETY: the main thread is attached; `stdin` is the C library's stream. On `exit()`
    // CPython finalizes and exits the process itself, exactly as `python` does.
    let result = unsafe { ffi::PyRun_AnyFileExFlags(stdin, filename.as_ptr(), 0, &mut flags) };
    Exit::code(i32::from(result != 0))
}

/// Runs the file named by PYTHONSTARTUP before the first prompt; its errors are printed.
fn run_startup_file(py: Python<'_>) {
    let ignore_env = py
        .import("sys")
        .and_then(|sys| {
            sys.getattr("flags")?
                .getattr("ignore_environment")?
                .is_truthy()
        })
        .unwrap_or(true);
    let Some(path) = std::env::var_os("PYTHONSTARTUP").filter(|p| !p.is_empty() && !ignore_env)
    else {
        return;
    };
    let Ok(source) = std::fs::read(&path) else {
        return;
    };
    let outcome = fs_decode(py, path.as_bytes()).and_then(|name| run_source(py, &name, &source));
    if let Err(err) = outcome {
        print_exception(py, err);
    }
}

/// Clears `inspect` so that `exit()` at the prompt ends the process (pymain_set_inspect).
fn leave_inspect_mode() {
    unsafe extern "C" {
        fn _Py_GetConfig() -> *const ffi::PyConfig;
    }
    // SAFETY: the interpreter is initialised and this thread is attached; python's own
    // main mutates its config the same way before its REPL.
    unsafe {
        let config = _Py_GetConfig() as *mut ffi::PyConfig;
        if !config.is_null() {
            (*config).inspect = 0;
        }
    }
}

/// `[Errno 2] No such file or directory`, as Python formats an OSError.
fn errno_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("[Errno {code}] {text}")
        }
        None => err.to_string(),
    }
}

/// Python's repr of a str, enough for paths in messages.
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
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
    fn messages_look_like_python() {
        assert_eq!(py_repr("/tmp/a b.py"), "'/tmp/a b.py'");
        assert_eq!(py_repr("it's.py"), "\"it's.py\"");
        let err = std::io::Error::from_raw_os_error(2);
        assert_eq!(errno_text(&err), "[Errno 2] No such file or directory");
    }
}
