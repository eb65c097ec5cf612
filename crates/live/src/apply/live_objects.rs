//! Finding the live objects a save concerns: the modules loaded from the file, and the
//! functions (and `__conform__` objects) using its code.

use std::collections::{HashMap, HashSet};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFunction, PyModule, PyString, PyType};

use super::FileChange;
use super::capi::{code_of, own_dict};

/// A module whose code comes from the changed file, with its name for reports.
pub struct LiveModule<'py> {
    pub name: String,
    pub module: Bound<'py, PyModule>,
}

/// Every loaded module whose `__file__` is the changed file (a script can also be imported
/// under its own name, giving two), `__main__` first.
pub fn modules_for<'py>(py: Python<'py>, change: &FileChange) -> PyResult<Vec<LiveModule<'py>>> {
    let mut found = Vec::new();
    let modules = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?;
    for (name, module) in modules.copy()?.iter() {
        let Ok(module) = module.cast_into::<PyModule>() else {
            continue;
        };
        let Ok(file) = module.getattr(intern!(py, "__file__")) else {
            continue;
        };
        let Ok(file) = file.extract::<String>() else {
            continue;
        };
        let same = file == change.code_filename
            || crate::filter::normalise(std::path::Path::new(&file)) == change.path;
        if same {
            found.push(LiveModule {
                name: name.extract::<String>().unwrap_or_default(),
                module,
            });
        }
    }
    // A script is still __main__ after __main__.__file__ is gone (at the -i prompt).
    if found.is_empty()
        && change.is_main
        && let Some(Ok(main)) = modules
            .get_item("__main__")?
            .map(|m| m.cast_into::<PyModule>())
    {
        found.push(LiveModule {
            name: "__main__".into(),
            module: main,
        });
    }
    found.sort_by_key(|m| m.name != "__main__");
    Ok(found)
}

/// A function found by the walk, by the first line its code had then.
struct LiveFunction<'py> {
    line: usize,
    function: Bound<'py, PyAny>,
}

/// A code object and the functions using it.
pub struct CodeUsers<'py> {
    pub code: Bound<'py, PyAny>,
    pub users: Vec<Bound<'py, PyAny>>,
}

/// The functions (and `__conform__` objects) reachable from a module's namespace whose
/// code comes from the changed file: module functions, methods, static and class methods,
/// properties, functions inside decorators (`__wrapped__`, closure cells). Walking the
/// module's own objects costs the same whatever the size of the heap.
pub struct LiveObjects<'py> {
    /// Sorted by line: a module of 100,000 functions is one sorted vector, not 100,000 map
    /// entries.
    functions: Vec<LiveFunction<'py>>,
    pub conformers: Vec<Bound<'py, PyAny>>,
}

impl<'py> LiveObjects<'py> {
    pub fn collect(py: Python<'py>, modules: &[LiveModule<'py>], filename: &str) -> PyResult<Self> {
        let mut live = LiveObjects {
            functions: Vec::new(),
            conformers: Vec::new(),
        };
        let names: Vec<String> = modules.iter().map(|m| m.name.clone()).collect();
        let filename = PyString::new(py, filename);
        let kinds = Kinds::new(py)?;
        let mut seen = HashSet::new();
        let mut stack: Vec<Bound<'py, PyAny>> = Vec::new();
        for module in modules {
            stack.extend(module.module.dict().values().iter());
        }
        while let Some(object) = stack.pop() {
            if !seen.insert(object.as_ptr() as usize) {
                continue;
            }
            if let Ok(function) = object.cast::<PyFunction>() {
                let code = code_of(&object)?;
                if code.getattr(intern!(py, "co_filename"))?.eq(&filename)? {
                    let line: usize = code.getattr(intern!(py, "co_firstlineno"))?.extract()?;
                    live.functions.push(LiveFunction {
                        line,
                        function: object.clone(),
                    });
                }
                if let Some(wrapped) =
                    own_dict(function).and_then(|d| d.get_item("__wrapped__").ok().flatten())
                {
                    stack.push(wrapped);
                }
                let closure = object.getattr(intern!(py, "__closure__"))?;
                if !closure.is_none() {
                    for cell in closure.try_iter()? {
                        if let Ok(contents) = cell?.getattr("cell_contents") {
                            stack.push(contents);
                        }
                    }
                }
            } else if object.is_instance_of::<PyType>() {
                let module: Option<String> = object
                    .getattr("__module__")
                    .ok()
                    .and_then(|m| m.extract().ok());
                if module.is_some_and(|m| names.contains(&m)) {
                    let own = object.getattr(intern!(py, "__dict__"))?;
                    stack.extend(
                        own.call_method0("values")?
                            .try_iter()?
                            .filter_map(Result::ok),
                    );
                }
            } else if let Some(inner) = kinds.unwrap(&object)? {
                stack.extend(inner);
            } else if kinds.has_conform(&object)? {
                live.conformers.push(object);
            }
        }
        live.functions.sort_by_key(|found| found.line);
        Ok(live)
    }

    /// Adds every function on the heap defined as `name` at `line` in `filename`: for one
    /// held only by something the walk does not open (a click command, a registry).
    pub fn scan_heap(
        &mut self,
        py: Python<'py>,
        filename: &str,
        name: &str,
        line: usize,
    ) -> PyResult<()> {
        for object in py.import("gc")?.call_method0("get_objects")?.try_iter()? {
            let object = object?;
            if !object.is_instance_of::<PyFunction>() {
                continue;
            }
            let code = code_of(&object)?;
            let matches = code
                .getattr(intern!(py, "co_firstlineno"))?
                .extract::<usize>()?
                == line
                && code.getattr(intern!(py, "co_name"))?.extract::<String>()? == name
                && code
                    .getattr(intern!(py, "co_filename"))?
                    .extract::<String>()?
                    == filename;
            if matches
                && !self
                    .functions
                    .iter()
                    .any(|known| known.function.is(&object))
            {
                self.functions.push(LiveFunction {
                    line,
                    function: object,
                });
            }
        }
        self.functions.sort_by_key(|found| found.line);
        Ok(())
    }

    /// The functions whose code started at `line` when collected.
    fn at_line(&self, line: usize) -> &[LiveFunction<'py>] {
        let start = self.functions.partition_point(|found| found.line < line);
        let end = self.functions.partition_point(|found| found.line <= line);
        &self.functions[start..end]
    }

    /// The distinct code objects of the functions defined as `name` at `line`.
    pub fn codes(&self, name: &str, line: usize) -> Vec<Bound<'py, PyAny>> {
        let mut codes: Vec<Bound<'py, PyAny>> = Vec::new();
        for found in self.at_line(line) {
            let Ok(code) = code_of(&found.function) else {
                continue;
            };
            let named = code
                .getattr(intern!(code.py(), "co_name"))
                .and_then(|n| n.extract::<String>())
                .is_ok_and(|n| n == name);
            if named && !codes.iter().any(|c| c.is(&code)) {
                codes.push(code);
            }
        }
        codes
    }

    /// The code objects of the functions defined at `line` or below, each with the
    /// functions using it.
    pub fn codes_from(&self, line: usize) -> Vec<CodeUsers<'py>> {
        let start = self.functions.partition_point(|found| found.line < line);
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut codes: Vec<CodeUsers<'py>> = Vec::new();
        for found in &self.functions[start..] {
            let Ok(code) = code_of(&found.function) else {
                continue;
            };
            let at = *index.entry(code.as_ptr() as usize).or_insert_with(|| {
                codes.push(CodeUsers {
                    code,
                    users: Vec::new(),
                });
                codes.len() - 1
            });
            codes[at].users.push(found.function.clone());
        }
        codes
    }

    /// The functions running one of `codes` now, by the address of that code.
    pub fn users_of(&self, codes: &HashSet<usize>) -> HashMap<usize, Vec<&Bound<'py, PyAny>>> {
        let mut users: HashMap<usize, Vec<&Bound<'py, PyAny>>> = HashMap::new();
        if codes.is_empty() {
            return users;
        }
        for found in &self.functions {
            if let Ok(code) = code_of(&found.function)
                && codes.contains(&(code.as_ptr() as usize))
            {
                users
                    .entry(code.as_ptr() as usize)
                    .or_default()
                    .push(&found.function);
            }
        }
        users
    }
}

/// The wrapper types whose inner functions the walk follows, looked up once.
struct Kinds<'py> {
    staticmethod: Bound<'py, PyAny>,
    classmethod: Bound<'py, PyAny>,
    property: Bound<'py, PyAny>,
    method: Bound<'py, PyAny>,
    partial: Bound<'py, PyAny>,
    cached_property: Bound<'py, PyAny>,
    lru_wrapper: Bound<'py, PyAny>,
}

impl<'py> Kinds<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let builtins = py.import("builtins")?;
        let functools = py.import("functools")?;
        Ok(Kinds {
            staticmethod: builtins.getattr(intern!(py, "staticmethod"))?,
            classmethod: builtins.getattr(intern!(py, "classmethod"))?,
            property: builtins.getattr(intern!(py, "property"))?,
            method: py.import("types")?.getattr("MethodType")?,
            partial: functools.getattr(intern!(py, "partial"))?,
            cached_property: functools.getattr(intern!(py, "cached_property"))?,
            lru_wrapper: functools.getattr(intern!(py, "_lru_cache_wrapper"))?,
        })
    }

    /// The functions inside a known wrapper object, or `None` for anything else. Only
    /// known types are opened, so no user `__getattr__` ever runs.
    fn unwrap(&self, object: &Bound<'py, PyAny>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
        let of = |kind: &Bound<'py, PyAny>| object.is_instance(kind).unwrap_or(false);
        let attributes: &[&str] =
            if of(&self.staticmethod) || of(&self.classmethod) || of(&self.method) {
                &["__func__"]
            } else if of(&self.property) {
                &["fget", "fset", "fdel"]
            } else if of(&self.partial) || of(&self.cached_property) {
                &["func"]
            } else if of(&self.lru_wrapper) {
                &["__wrapped__"]
            } else {
                return Ok(None);
            };
        let mut inner = Vec::new();
        for attribute in attributes {
            if let Ok(value) = object.getattr(*attribute)
                && !value.is_none()
            {
                inner.push(value);
            }
        }
        Ok(Some(inner))
    }

    /// Whether the object's type defines `__conform__` (looked up statically).
    fn has_conform(&self, object: &Bound<'py, PyAny>) -> PyResult<bool> {
        for class in object.get_type().getattr("__mro__")?.try_iter()? {
            if class?.getattr("__dict__")?.contains("__conform__")? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
