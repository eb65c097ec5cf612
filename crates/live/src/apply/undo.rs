//! The transaction's undo log: everything a batch changed, recorded before it changed, to
//! put back if a later step fails.

use std::collections::HashSet;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::capi::{code_of, defaults_of};
use super::class_namespace::ClassNamespace;

/// A function as it was before the batch gave it new code (and perhaps defaults).
struct FunctionBefore {
    function: Py<PyAny>,
    code: Py<PyAny>,
    defaults: Py<PyAny>,
    kwdefaults: Py<PyAny>,
    doc: Py<PyAny>,
}

/// A function whose code only moved: its code is all that changed.
struct CodeBefore {
    function: Py<PyAny>,
    code: Py<PyAny>,
}

/// A module's namespace as it was before the batch first wrote to it.
struct ModuleBefore {
    module: Py<PyModule>,
    dict: Py<PyDict>,
}

/// An attribute of a class before the batch deleted it.
struct AttributeBefore {
    owner: Py<PyAny>,
    name: String,
    value: Py<PyAny>,
}

#[derive(Default)]
pub struct Undo {
    functions: Vec<FunctionBefore>,
    /// The functions in `functions`, by address (they are kept alive there).
    recorded: HashSet<usize>,
    codes: Vec<CodeBefore>,
    modules: Vec<ModuleBefore>,
    /// Class bodies run into live classes; each keeps its own record.
    classes: Vec<Py<ClassNamespace>>,
    attributes: Vec<AttributeBefore>,
}

impl Undo {
    /// Records only a function's code (all a move changes), unless recorded whole already.
    pub fn record_code(&mut self, function: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.recorded.contains(&(function.as_ptr() as usize)) {
            self.codes.push(CodeBefore {
                function: function.clone().unbind(),
                code: code_of(function)?.unbind(),
            });
        }
        Ok(())
    }

    /// Records a function's code, defaults and docstring, once.
    pub fn record_function(&mut self, function: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.recorded.insert(function.as_ptr() as usize) {
            return Ok(());
        }
        let (defaults, kwdefaults) = defaults_of(function)?;
        self.functions.push(FunctionBefore {
            function: function.clone().unbind(),
            code: code_of(function)?.unbind(),
            defaults: defaults.unbind(),
            kwdefaults: kwdefaults.unbind(),
            doc: function
                .getattr(intern!(function.py(), "__doc__"))?
                .unbind(),
        });
        Ok(())
    }

    /// Records a module's namespace the first time the batch writes to it.
    pub fn record_module(&mut self, module: &Bound<'_, PyModule>) -> PyResult<()> {
        if !self.modules.iter().any(|before| before.module.is(module)) {
            self.modules.push(ModuleBefore {
                module: module.clone().unbind(),
                dict: module.dict().copy()?.unbind(),
            });
        }
        Ok(())
    }

    /// Records a class body run into a live class (it records what it changes itself).
    pub fn record_class_body(&mut self, namespace: Py<ClassNamespace>) {
        self.classes.push(namespace);
    }

    /// Records `owner.name` before it is deleted.
    pub fn record_attribute(&mut self, owner: &Bound<'_, PyAny>, name: &str, value: Py<PyAny>) {
        self.attributes.push(AttributeBefore {
            owner: owner.clone().unbind(),
            name: name.to_string(),
            value,
        });
    }

    /// Puts everything back, newest first. Best effort: a restore that fails (an object
    /// that refuses the write) does not stop the others.
    pub fn rollback(&mut self, py: Python<'_>) {
        self.recorded.clear();
        for before in self.functions.drain(..).rev() {
            let function = before.function.bind(py);
            let _ = function.setattr(intern!(py, "__code__"), before.code);
            let _ = function.setattr(intern!(py, "__defaults__"), before.defaults);
            let _ = function.setattr(intern!(py, "__kwdefaults__"), before.kwdefaults);
            let _ = function.setattr(intern!(py, "__doc__"), before.doc);
        }
        // After the whole records: a function recorded whole after its move holds the moved
        // code there, and the code from before the move must win.
        for before in self.codes.drain(..).rev() {
            let _ = before
                .function
                .bind(py)
                .setattr(intern!(py, "__code__"), before.code);
        }
        for before in self.attributes.drain(..).rev() {
            let _ = before
                .owner
                .bind(py)
                .setattr(before.name.as_str(), before.value);
        }
        for namespace in self.classes.drain(..).rev() {
            namespace.bind(py).borrow_mut().undo(py);
        }
        for before in self.modules.drain(..) {
            restore_dict(&before.module.bind(py).dict(), before.dict.bind(py));
        }
    }
}

/// Makes `dict` hold what `before` holds again, writing only the keys that differ (a
/// module's dict may be large, and other code may hold on to its values).
fn restore_dict(dict: &Bound<'_, PyDict>, before: &Bound<'_, PyDict>) {
    let keys: Vec<Bound<'_, PyAny>> = dict.keys().iter().collect();
    for key in keys {
        if !before.contains(&key).unwrap_or(true) {
            let _ = dict.del_item(&key);
        }
    }
    for (key, value) in before.iter() {
        let unchanged = dict
            .get_item(&key)
            .ok()
            .flatten()
            .is_some_and(|current| current.is(&value));
        if !unchanged {
            let _ = dict.set_item(key, value);
        }
    }
}
