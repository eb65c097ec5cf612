//! `--loop NAME` / `--xloop NAME`: what NAME names, and routing every call of it into the
//! develoop.
//!
//! NAME is `fn` or `Class.method` in the program's main module (script or `-m module`),
//! `module:fn` / `module:Class.method`, or `/module/Class/method`. The function is
//! redirected in place, as jurigged does: a copy keeps its code and becomes the looped
//! function, and the original's code becomes `return <loop>(*args, **kwargs)`, so direct
//! calls, references taken earlier and methods of existing instances all enter the loop.
//! Functions of the main module do not exist before it runs: its top-level code runs with a
//! namespace that redirects each one as soon as it is defined.

use std::path::Path;
use std::sync::Mutex;

use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFunction, PyType};

use super::looped::Develoop;
use jurigged_source::{self as source, Kind};

/// One `--loop` / `--xloop` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopName {
    pub spec: String,
    pub only_on_error: bool,
    /// `None` for the main module.
    pub module: Option<String>,
    pub path: Vec<String>,
}

impl LoopName {
    pub fn parse(spec: &str, only_on_error: bool) -> LoopName {
        let (module, path) = if let Some(rest) = spec.strip_prefix('/') {
            let mut parts = rest.split('/').map(str::to_string);
            let module = parts.next();
            (module, parts.collect())
        } else if let Some((module, path)) = spec.split_once(':') {
            (
                Some(module.to_string()),
                path.split('.').map(str::to_string).collect(),
            )
        } else {
            (None, spec.split('.').map(str::to_string).collect())
        };
        LoopName {
            spec: spec.to_string(),
            only_on_error,
            module,
            path,
        }
    }

    fn flag(&self) -> &'static str {
        if self.only_on_error {
            "--xloop"
        } else {
            "--loop"
        }
    }
}

/// Main-module names still waiting for their function to be defined. Process-wide: set by
/// `prepare_loops` before the program runs and read by the main namespace the command line
/// makes afterwards, through two separate calls of this crate's API.
static PENDING: Mutex<Vec<LoopName>> = Mutex::new(Vec::new());
/// Why a `--loop` / `--xloop` name cannot be set up: `{flag} {spec}: {problem}`.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {spec}: {problem}")]
pub struct LoopNameError {
    flag: &'static str,
    spec: String,
    problem: LoopNameProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum LoopNameProblem {
    /// Its module failed to import, or its function to be redirected (the exception's text).
    #[error("{0}")]
    Python(String),
    #[error("no function or method '{path}' in module '{module}'")]
    NotInModule { path: String, module: String },
    #[error("there is no script or module to look in (give NAME as module:function)")]
    NoMain,
    #[error("no function or method '{path}' in {main}")]
    NotInMain { path: String, main: String },
}

impl LoopName {
    fn error(&self, problem: LoopNameProblem) -> LoopNameError {
        LoopNameError {
            flag: self.flag(),
            spec: self.spec.clone(),
            problem,
        }
    }

    fn python_error(&self, py: Python<'_>, error: PyErr) -> LoopNameError {
        self.error(LoopNameProblem::Python(error.value(py).to_string()))
    }
}

/// Checks and sets up every name before the program runs. Names in other modules are
/// imported and redirected now; names of the main module (`main`, its source) are
/// checked against its definitions and redirected as it runs.
pub fn prepare(
    py: Python<'_>,
    names: &[LoopName],
    main: Option<MainSource>,
) -> Result<(), LoopNameError> {
    for name in names {
        match &name.module {
            Some(module) => {
                let module_object = py
                    .import(module.as_str())
                    .map_err(|err| name.python_error(py, err))?;
                let globals = module_object.dict();
                let resolved = resolve(&globals, &name.path).map_err(|_| {
                    name.error(LoopNameProblem::NotInModule {
                        path: name.path.join("."),
                        module: module.clone(),
                    })
                })?;
                redirect(py, &resolved, name.only_on_error)
                    .map_err(|err| name.python_error(py, err))?;
            }
            None => {
                let Some(main) = &main else {
                    return Err(name.error(LoopNameProblem::NoMain));
                };
                if !main.defines(&name.path) {
                    return Err(name.error(LoopNameProblem::NotInMain {
                        path: name.path.join("."),
                        main: main.describe(),
                    }));
                }
                PENDING
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(name.clone());
            }
        }
    }
    Ok(())
}

/// Whether some main-module names wait for their definition.
pub fn main_names_pending() -> bool {
    !PENDING.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// The main module's source, where plain `--loop` names are looked up.
#[derive(Debug, Clone, Copy)]
pub enum MainSource<'a> {
    File(&'a Path),
    /// `-c CODE`.
    Code(&'a str),
}

impl MainSource<'_> {
    /// Whether it defines `path` (a top-level function, or a method of a top-level class).
    fn defines(&self, path: &[String]) -> bool {
        let text = match self {
            MainSource::File(file) => std::fs::read(file)
                .ok()
                .and_then(|bytes| jurigged_live::decode_source(&bytes)),
            MainSource::Code(code) => Some(code.to_string()),
        };
        text.is_some_and(|text| defines(&text, path))
    }

    fn describe(&self) -> String {
        match self {
            MainSource::File(file) => file.display().to_string(),
            MainSource::Code(_) => "the -c code".into(),
        }
    }
}

/// Whether `text` defines `path` as tree-sitter reads it.
fn defines(text: &str, path: &[String]) -> bool {
    let Ok(tree) = source::parse(text) else {
        // Let python report the syntax error when it runs the file.
        return true;
    };
    let mut body = &tree.definitions;
    for (index, part) in path.iter().enumerate() {
        let last = index + 1 == path.len();
        let found = body.iter().find(|d| {
            d.name == *part
                && if last {
                    d.kind == Kind::Function
                } else {
                    d.kind == Kind::Class
                }
        });
        match found {
            Some(definition) if !last => body = &definition.children,
            Some(_) => return true,
            None => return false,
        }
    }
    false
}

/// The function object at `path` in a module namespace (decorators unwrapped).
fn resolve<'py>(globals: &Bound<'py, PyDict>, path: &[String]) -> PyResult<Bound<'py, PyAny>> {
    let (first, rest) = path
        .split_first()
        .ok_or_else(|| PyKeyError::new_err("empty name"))?;
    let mut current = globals
        .get_item(first)?
        .ok_or_else(|| PyKeyError::new_err(first.clone()))?;
    for part in rest {
        let class = current
            .cast::<PyType>()
            .map_err(|_| PyKeyError::new_err(part.clone()))?
            .clone();
        current = class
            .getattr("__dict__")?
            .get_item(part.as_str())
            .map_err(|_| PyKeyError::new_err(part.clone()))?;
    }
    let wanted = path.last().cloned().unwrap_or_default();
    find_function(&current, &wanted).ok_or_else(|| PyKeyError::new_err(wanted))
}

/// Looks through decorators (`__wrapped__`, `__func__`, closure cells) for the function
/// named `name`.
fn find_function<'py>(start: &Bound<'py, PyAny>, name: &str) -> Option<Bound<'py, PyAny>> {
    let mut stack = vec![start.clone()];
    let mut seen = 0;
    while let Some(object) = stack.pop() {
        seen += 1;
        if seen > 64 {
            break;
        }
        if object.is_instance_of::<PyFunction>() {
            let code_name: Option<String> = object
                .getattr("__code__")
                .and_then(|c| c.getattr("co_name"))
                .and_then(|n| n.extract())
                .ok();
            if code_name.as_deref() == Some(name) {
                return Some(object);
            }
            if let Ok(closure) = object.getattr("__closure__")
                && let Ok(cells) = closure.try_iter()
            {
                for cell in cells.flatten() {
                    if let Ok(contents) = cell.getattr("cell_contents") {
                        stack.push(contents);
                    }
                }
            }
        }
        for attribute in ["__wrapped__", "__func__"] {
            if let Ok(inner) = object.getattr(attribute) {
                stack.push(inner);
            }
        }
    }
    None
}

/// Makes every call of `function` enter the develoop.
fn redirect(py: Python<'_>, function: &Bound<'_, PyAny>, only_on_error: bool) -> PyResult<()> {
    let code = function.getattr("__code__")?;
    let globals = function.getattr("__globals__")?.cast_into::<PyDict>()?;
    let name: String = code.getattr("co_name")?.extract()?;
    let qualname: String = function.getattr("__qualname__")?.extract()?;
    let copy = py.import("types")?.getattr("FunctionType")?.call1((
        &code,
        &globals,
        &name,
        function.getattr("__defaults__")?,
        function.getattr("__closure__")?,
    ))?;
    copy.setattr("__kwdefaults__", function.getattr("__kwdefaults__")?)?;
    copy.setattr("__qualname__", &qualname)?;
    copy.getattr("__dict__")?
        .call_method1("update", (function.getattr("__dict__")?,))?;
    let key: String = format!(
        "____jurigged_wrapped_{}",
        qualname
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect::<String>()
    );
    let looped = Develoop::wrap(py, copy.clone().unbind(), only_on_error, None)?;
    globals.set_item(&key, looped)?;
    let redirector = redirector_code(py, &code, &name, &key)?;
    function.setattr("__code__", redirector)?;
    // Live patching finds the looped copy through this, like any decorated function.
    function.setattr("__wrapped__", copy)?;
    Ok(())
}

/// `def name(*args, **kwargs): return key(*args, **kwargs)`, with the same free variables
/// as `code` (a function's closure must fit its code).
fn redirector_code<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyAny>,
    name: &str,
    key: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let free: Vec<String> = code.getattr("co_freevars")?.extract()?;
    let source = if free.is_empty() {
        format!("def {name}(*args, **kwargs):\n    return {key}(*args, **kwargs)\n")
    } else {
        let assignments: String = free.iter().map(|v| format!("    {v} = None\n")).collect();
        format!(
            "def ____outer():\n{assignments}    def {name}(*args, **kwargs):\n        {}\n        return {key}(*args, **kwargs)\n    return {name}\n",
            free.join(", ")
        )
    };
    let module =
        py.import("builtins")?
            .getattr("compile")?
            .call1((source, "<jurigged loop>", "exec"))?;
    let mut found = child(&module, if free.is_empty() { name } else { "____outer" })?;
    if !free.is_empty() {
        found = child(&found, name)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("co_freevars", code.getattr("co_freevars")?)?;
        found = found.call_method("replace", (), Some(&kwargs))?;
    }
    Ok(found)
}

fn child<'py>(code: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    for constant in code.getattr("co_consts")?.try_iter()? {
        let constant = constant?;
        if constant
            .getattr("co_name")
            .and_then(|n| n.extract::<String>())
            .ok()
            .as_deref()
            == Some(name)
        {
            return Ok(constant);
        }
    }
    Err(PyRuntimeError::new_err(format!("no code for {name}")))
}

/// The main module's namespace while its top-level code runs: reads and writes go to its
/// globals, each value bound goes through the main-binding wrapper if one is plugged in,
/// and each definition a `--loop` names is redirected as soon as it is bound.
#[pyclass(mapping, module = "jurigged")]
pub struct MainNamespace {
    globals: Py<PyDict>,
}

impl MainNamespace {
    pub fn new(globals: Py<PyDict>) -> MainNamespace {
        MainNamespace { globals }
    }
}

#[pymethods]
impl MainNamespace {
    fn __getitem__(&self, py: Python<'_>, key: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match self.globals.bind(py).get_item(&key)? {
            Some(value) => Ok(value.unbind()),
            None => Err(PyKeyError::new_err(key.unbind())),
        }
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: Bound<'_, PyAny>,
        value: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let globals = self.globals.bind(py);
        let value = crate::extensions::wrap_main_binding(py, value)?;
        globals.set_item(&key, value)?;
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return Ok(());
        }
        let bound: String = key.extract().unwrap_or_default();
        let mut index = 0;
        while index < pending.len() {
            let name = &pending[index];
            if name.path.first() == Some(&bound)
                && let Ok(function) = resolve(globals, &name.path)
            {
                redirect(py, &function, name.only_on_error)?;
                pending.remove(index);
                continue;
            }
            index += 1;
        }
        Ok(())
    }

    fn __delitem__(&self, py: Python<'_>, key: Bound<'_, PyAny>) -> PyResult<()> {
        self.globals.bind(py).del_item(key)
    }

    fn __contains__(&self, py: Python<'_>, key: Bound<'_, PyAny>) -> PyResult<bool> {
        self.globals.bind(py).contains(key)
    }

    fn keys(&self, py: Python<'_>) -> Py<PyAny> {
        self.globals.bind(py).keys().into_any().unbind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn name_forms() {
        let main = LoopName::parse("Class.method", false);
        assert_eq!((main.module, main.path), (None, path(&["Class", "method"])));
        let colon = LoopName::parse("pkg.mod:Class.method", true);
        assert_eq!(
            (colon.module.as_deref(), colon.path),
            (Some("pkg.mod"), path(&["Class", "method"]))
        );
        let slashes = LoopName::parse("/mod/Class/method", false);
        assert_eq!(
            (slashes.module.as_deref(), slashes.path),
            (Some("mod"), path(&["Class", "method"]))
        );
    }

    #[test]
    fn name_errors_say_the_flag_the_name_and_the_problem() {
        let name = LoopName::parse("app:Tool.run", true);
        let missing = name.error(LoopNameProblem::NotInModule {
            path: "Tool.run".into(),
            module: "app".into(),
        });
        assert_eq!(
            missing.to_string(),
            "--xloop app:Tool.run: no function or method 'Tool.run' in module 'app'"
        );
        let no_main = LoopName::parse("main", false).error(LoopNameProblem::NoMain);
        assert_eq!(
            no_main.to_string(),
            "--loop main: there is no script or module to look in (give NAME as module:function)"
        );
    }

    #[test]
    fn definitions_are_checked_in_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.py");
        std::fs::write(
            &file,
            "def f():\n    pass\n\nclass C:\n    def m(self):\n        pass\n",
        )
        .unwrap();
        let main = MainSource::File(&file);
        assert!(main.defines(&path(&["f"])));
        assert!(main.defines(&path(&["C", "m"])));
        assert!(!main.defines(&path(&["g"])));
        assert!(!main.defines(&path(&["C", "n"])));
        assert!(!main.defines(&path(&["f", "m"])));
        assert!(MainSource::Code("def g(): pass").defines(&path(&["g"])));
    }
}
