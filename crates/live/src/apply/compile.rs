//! Compiling definitions in their real context: the module's new source with every line
//! blanked but the definition's own and the headers of its enclosing classes, so that line
//! numbers, qualified names, `super()` and closures come out exactly as a full compile
//! would give them.

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyDict, PyModule};

use jurigged_source::{Definition, Kind, ModuleTree, locate, mask};

/// Compiles masked versions of one new source.
pub struct Compiler<'a, 'py> {
    py: Python<'py>,
    source: &'a str,
    filename: &'a str,
    /// The `from __future__` flags in force in the module.
    flags: i64,
}

impl<'a, 'py> Compiler<'a, 'py> {
    /// A compiler for `source`, with the future imports in force in `module`.
    pub fn new(
        module: &Bound<'py, PyModule>,
        source: &'a str,
        filename: &'a str,
    ) -> PyResult<Self> {
        Ok(Compiler {
            py: module.py(),
            source,
            filename,
            flags: future_flags(module)?,
        })
    }

    /// The module code of the source with only the lines in `keep` (first, last) left.
    pub fn compile(&self, keep: &[(usize, usize)]) -> PyResult<Bound<'py, PyAny>> {
        let text = mask(self.source, keep);
        self.py.import("builtins")?.getattr("compile")?.call1((
            text,
            self.filename,
            "exec",
            self.flags,
            true,
        ))
    }

    /// The code of the body of `definition` (inside `classes`), compiled in place.
    pub fn body(
        &self,
        classes: &[&Definition],
        definition: &Definition,
    ) -> PyResult<Bound<'py, PyAny>> {
        let module_code = self.compile(&keep_lines(classes, definition, Decorators::Kept))?;
        code_at(&module_code, classes, None)
    }
}

/// Whether a function is compiled with its decorators (a def alone, run for its defaults,
/// must not apply them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decorators {
    Kept,
    Left,
}

/// The `from __future__ import ...` flags in force in a module.
fn future_flags(module: &Bound<'_, PyModule>) -> PyResult<i64> {
    let py = module.py();
    // A module with a future import has loaded __future__; importing it here would
    // release the GIL for file reads in the middle of a batch.
    let Some(future) = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?
        .get_item("__future__")?
    else {
        return Ok(0);
    };
    let globals = module.dict();
    let mut flags = 0;
    for name in future
        .getattr(intern!(py, "all_feature_names"))?
        .try_iter()?
    {
        let name: String = name?.extract()?;
        let feature = future.getattr(name.as_str())?;
        if let Some(value) = globals.get_item(&name)?
            && value.is(&feature)
        {
            flags |= feature
                .getattr(intern!(py, "compiler_flag"))?
                .extract::<i64>()?;
        }
    }
    Ok(flags)
}

/// The definition at `path` (for a statement: its parent's path) starting at `line` in the
/// new tree, with its enclosing classes.
pub fn find<'t>(
    tree: &'t ModuleTree,
    path: &[String],
    line: usize,
) -> PyResult<(Vec<&'t Definition>, &'t Definition)> {
    locate(tree, path, line).ok_or_else(|| {
        let what = if path.is_empty() {
            "the statement".to_string()
        } else {
            path.join(".")
        };
        PyRuntimeError::new_err(format!(
            "jurigged cannot find {what} at line {line} of the new source"
        ))
    })
}

/// The lines to compile: the headers of the enclosing classes and the definition.
pub fn keep_lines(
    classes: &[&Definition],
    definition: &Definition,
    decorators: Decorators,
) -> Vec<(usize, usize)> {
    let mut keep: Vec<(usize, usize)> = classes.iter().map(|c| c.header_lines).collect();
    let start = if decorators == Decorators::Kept || definition.kind != Kind::Function {
        definition.line
    } else {
        definition.def_line
    };
    keep.push((start, definition.end_line));
    keep
}

/// The code object at `classes` (class bodies, by name) and then, if given, the function
/// `name` starting at `line`, inside a compiled module.
pub fn code_at<'py>(
    module_code: &Bound<'py, PyAny>,
    classes: &[&Definition],
    function: Option<(&str, usize)>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut current = module_code.clone();
    for class in classes {
        current = child_code(&current, |name, _| name == class.name)?
            .ok_or_else(|| PyRuntimeError::new_err(format!("no code for class {}", class.name)))?;
    }
    if let Some((wanted, line)) = function {
        current = child_code(&current, |name, first| name == wanted && first == line)?.ok_or_else(
            || PyRuntimeError::new_err(format!("no code for {wanted} at line {line}")),
        )?;
    }
    Ok(current)
}

/// The first code object among `code`'s constants whose name and first line match.
pub fn child_code<'py>(
    code: &Bound<'py, PyAny>,
    matches: impl Fn(&str, usize) -> bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = code.py();
    for constant in code.getattr(intern!(py, "co_consts"))?.try_iter()? {
        let constant = constant?;
        if constant.is_instance_of::<PyCode>() {
            let name: String = constant.getattr(intern!(py, "co_name"))?.extract()?;
            let first: usize = constant.getattr(intern!(py, "co_firstlineno"))?.extract()?;
            if matches(&name, first) {
                return Ok(Some(constant));
            }
        }
    }
    Ok(None)
}

/// Whether every old code captures the same names as the new one (else the function is
/// rebuilt: a function's closure cannot change).
pub fn same_free_variables(old: &[Bound<'_, PyAny>], new: &Bound<'_, PyAny>) -> PyResult<bool> {
    let new_free = new.getattr(intern!(new.py(), "co_freevars"))?;
    for code in old {
        if !code
            .getattr(intern!(code.py(), "co_freevars"))?
            .eq(&new_free)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}
