//! The Python side of the develoop: the built-in `jurigged` and `jurigged.loop` modules
//! (`loop`, `xloop`, `loop_on_error`, `give`, `__`), importable in any program run by
//! `jurigged` without a pip install, and `__` in builtins with `--dev`.

use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::looped::{self, Develoop};
use super::runner;

pyo3::create_exception!(
    jurigged,
    Abort,
    PyBaseException,
    "Raised in a looped function to abort its run."
);

/// `loop(fn=None, *, interface=None, only_on_error=False)`: a decorator, bare or with
/// keywords.
#[pyfunction(name = "loop")]
#[pyo3(signature = (function=None, *, interface=None, only_on_error=false))]
fn loop_(
    py: Python<'_>,
    function: Option<Py<PyAny>>,
    interface: Option<String>,
    only_on_error: bool,
) -> PyResult<Py<PyAny>> {
    match function {
        Some(function) => Ok(Develoop::wrap(py, function, only_on_error, interface)?.into_any()),
        None => {
            let this = wrap_pyfunction!(loop_, py)?;
            let keywords = PyDict::new(py);
            keywords.set_item("interface", interface)?;
            keywords.set_item("only_on_error", only_on_error)?;
            let partial = py.import("functools")?.getattr("partial")?;
            Ok(partial.call((this,), Some(&keywords))?.unbind())
        }
    }
}

/// `xloop` / `loop_on_error`: the loop opens only when the function raises.
#[pyfunction]
#[pyo3(signature = (function=None, *, interface=None))]
fn xloop(
    py: Python<'_>,
    function: Option<Py<PyAny>>,
    interface: Option<String>,
) -> PyResult<Py<PyAny>> {
    loop_(py, function, interface, true)
}

/// `give(name=value)` records a value in the current run; `give(value)` names it after
/// the argument's source text, as jurigged does. Returns the (last) value given.
#[pyfunction]
#[pyo3(signature = (*values, **named))]
fn give(
    py: Python<'_>,
    values: &Bound<'_, PyTuple>,
    named: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let mut pairs: Vec<(String, Bound<'_, PyAny>)> = Vec::new();
    if !values.is_empty() {
        let names = argument_texts(py).unwrap_or_default();
        for (index, value) in values.iter().enumerate() {
            let name = names.get(index).cloned().unwrap_or_else(|| "value".into());
            pairs.push((name, value));
        }
    }
    if let Some(named) = named {
        for (key, value) in named.iter() {
            pairs.push((key.to_string(), value));
        }
    }
    let mut last = py.None();
    for (key, value) in pairs {
        let text = value.str().map(|s| s.to_string()).unwrap_or_default();
        if runner::give(key.clone(), text.clone()) == Some(true) {
            let sys = py.import("sys")?;
            sys.getattr("stdout")?
                .call_method1("write", (format!("{key}: {text}\n"),))?;
        }
        last = value.unbind();
    }
    Ok(last)
}

/// The source text of each argument of the `give(...)` call that is running, read from
/// the caller's line.
fn argument_texts(py: Python<'_>) -> PyResult<Vec<String>> {
    let frame = py.import("sys")?.call_method1("_getframe", (0,))?;
    let filename: String = frame.getattr("f_code")?.getattr("co_filename")?.extract()?;
    let line_number: usize = frame.getattr("f_lineno")?.extract()?;
    let line: String = py
        .import("linecache")?
        .call_method1("getline", (filename, line_number))?
        .extract()?;
    let Some(start) = line.find("give(") else {
        return Ok(Vec::new());
    };
    Ok(split_arguments(&line[start + "give(".len()..]))
}

/// The top-level comma-separated arguments before the closing parenthesis.
fn split_arguments(text: &str) -> Vec<String> {
    let mut arguments = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                arguments.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        arguments.push(current.trim().to_string());
    }
    arguments
}

/// What `jurigged.watch()` returns. Under the `jurigged` binary the watching belongs to the
/// process, so `stop` and `join` do nothing.
#[pyclass(module = "jurigged")]
struct Watcher;

#[pymethods]
impl Watcher {
    fn stop(&self) {}

    fn join(&self) {}

    fn start(&self) {}
}

/// `jurigged.watch(pattern="./*.py", logger=<default>, registry=None, autostart=True,
/// debounce=0.05, poll=False)`, for programs that start jurigged 0.6 themselves: the
/// files matching `pattern` (a glob or a list of them) are watched too, and with the
/// default logger the `Watch` / `Update` / ... lines are printed as with `-v`;
/// `logger=None` keeps them quiet. Errors are printed either way, as on the command line.
/// The command line's debounce and polling stay in force.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn watch(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Watcher> {
    let argument = |index: usize, name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        if let Ok(value) = args.get_item(index) {
            return Ok(Some(value));
        }
        match kwargs {
            Some(kwargs) => kwargs.get_item(name),
            None => Ok(None),
        }
    };
    // Left out, jurigged's default logger; None, quiet.
    let print_lines = argument(1, "logger")?.is_none_or(|logger| !logger.is_none());
    let patterns: Option<Vec<String>> = match argument(0, "pattern")? {
        None => Some(vec!["./*.py".into()]),
        Some(pattern) => match pattern.extract::<String>() {
            Ok(one) => Some(vec![one]),
            // A list of globs; anything else (a filter function) adds no file.
            Err(_) => pattern.extract::<Vec<String>>().ok(),
        },
    };
    jurigged_live::watch_from_program(py, patterns.as_deref(), print_lines)
        .map_err(|err| pyo3::exceptions::PyValueError::new_err(err.to_string()))?;
    Ok(Watcher)
}

/// `jurigged._apply_saved_changes()`: apply what was saved, now (hot_restart's `c`);
/// returns the files whose saved version could not be applied.
#[pyfunction]
fn _apply_saved_changes(py: Python<'_>) -> Vec<String> {
    jurigged_live::apply_saved_changes(py)
}

/// `jurigged._watch_file(filename)`: watch and patch that file wherever it lives (the
/// modules hot restart wraps).
#[pyfunction]
fn _watch_file(filename: &str) {
    jurigged_live::watch_file(filename);
}

/// `jurigged._is_watched(path)`: whether jurigged watches (and patches) that file.
#[pyfunction]
fn _is_watched(path: std::path::PathBuf) -> bool {
    jurigged_live::is_watched(&path)
}

/// Puts `jurigged` and `jurigged.loop` in `sys.modules` (and `__` in builtins with
/// `--dev`). `default_interface` is `--loop-interface`.
pub fn install(py: Python<'_>, dev: bool, default_interface: &str) -> PyResult<()> {
    looped::set_default_interface(default_interface);
    let loop_module = PyModule::new(py, "jurigged.loop")?;
    loop_module.add_function(wrap_pyfunction!(loop_, &loop_module)?)?;
    loop_module.add_function(wrap_pyfunction!(xloop, &loop_module)?)?;
    loop_module.add("loop_on_error", loop_module.getattr("xloop")?)?;
    loop_module.add_function(wrap_pyfunction!(give, &loop_module)?)?;
    loop_module.add_class::<Develoop>()?;
    loop_module.add("Abort", py.get_type::<Abort>())?;
    let namespace = py.import("types")?.getattr("SimpleNamespace")?.call(
        (),
        Some(&{
            let items = PyDict::new(py);
            for name in ["loop", "xloop", "loop_on_error", "give"] {
                items.set_item(name, loop_module.getattr(name)?)?;
            }
            items
        }),
    )?;
    loop_module.add("__", &namespace)?;

    let package = PyModule::new(py, "jurigged")?;
    package.add("__path__", pyo3::types::PyList::empty(py))?;
    package.add("__version__", env!("CARGO_PKG_VERSION"))?;
    package.add("loop", &loop_module)?;
    package.add_function(wrap_pyfunction!(watch, &package)?)?;
    package.add_function(wrap_pyfunction!(_apply_saved_changes, &package)?)?;
    package.add_function(wrap_pyfunction!(_is_watched, &package)?)?;
    package.add_function(wrap_pyfunction!(_watch_file, &package)?)?;
    for name in ["xloop", "loop_on_error", "give", "__"] {
        package.add(name, loop_module.getattr(name)?)?;
    }
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("jurigged", &package)?;
    modules.set_item("jurigged.loop", &loop_module)?;
    if dev {
        py.import("builtins")?.setattr("__", namespace)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_arguments;

    #[test]
    fn give_arguments_are_named_after_their_source() {
        assert_eq!(split_arguments("x)"), ["x"]);
        assert_eq!(
            split_arguments("a.b + 1, f(x, y), [1, 2])  # note"),
            ["a.b + 1", "f(x, y)", "[1, 2]"]
        );
    }
}
