//! A live class seen as a class body's namespace.
//!
//! New methods and changed class-level statements are run by executing (part of) the class
//! body's code with this mapping as its locals: names defined go onto the existing class
//! (so existing instances see them), names read come from the class and then the module,
//! as in a real class body. Every change is recorded so that it can be undone.

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Names the compiler stores at the start of every class body; the live class has its own.
const BOOKKEEPING: &[&str] = &[
    "__module__",
    "__qualname__",
    "__firstlineno__",
    "__static_attributes__",
    "__classdictcell__",
];

#[pyclass(mapping, module = "jurigged")]
pub struct ClassNamespace {
    class: Py<PyType>,
    /// (name, previous value in the class dict or None), in order.
    undo: Vec<(String, Option<Py<PyAny>>)>,
    /// The `__class__` cell of the body, bound to the live class once the body ran.
    class_cell: Option<Py<PyAny>>,
    /// A definition hot restart wraps before it is bound: (name, the module's name).
    rewrap: Option<(String, Py<PyAny>)>,
}

impl ClassNamespace {
    pub fn new(class: Py<PyType>) -> ClassNamespace {
        ClassNamespace {
            class,
            undo: Vec::new(),
            class_cell: None,
            rewrap: None,
        }
    }

    /// Binds `name` wrapped by hot restart (the class is one it wraps).
    pub fn rewrap(&mut self, name: &str, module_name: Py<PyAny>) {
        self.rewrap = Some((name.to_string(), module_name));
    }

    /// Points `super()` and `__class__` in the methods just defined at the live class.
    pub fn bind_class_cell(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(cell) = &self.class_cell {
            cell.bind(py)
                .setattr("cell_contents", self.class.bind(py))?;
        }
        Ok(())
    }

    /// Puts the class back as it was before this namespace touched it.
    pub fn undo(&mut self, py: Python<'_>) {
        let class = self.class.bind(py);
        for (name, previous) in self.undo.drain(..).rev() {
            let result = match previous {
                Some(value) => class.setattr(name.as_str(), value),
                None => class.delattr(name.as_str()),
            };
            if result.is_err() {
                // SAFETY: clearing the error of a best-effort restore.
                unsafe { pyo3::ffi::PyErr_Clear() };
            }
        }
    }

    /// The value `name` has in the class's own dict (not inherited), if any.
    fn own_value<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let proxy = self.class.bind(py).getattr("__dict__")?;
        if proxy.contains(name)? {
            Ok(Some(proxy.get_item(name)?))
        } else {
            Ok(None)
        }
    }

    fn remember(&mut self, py: Python<'_>, name: &str) -> PyResult<()> {
        let previous = self.own_value(py, name)?.map(Bound::unbind);
        self.undo.push((name.to_string(), previous));
        Ok(())
    }
}

#[pymethods]
impl ClassNamespace {
    fn __getitem__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        // A missing name is a KeyError, so the body falls back to the module's globals.
        match self.own_value(py, name)? {
            Some(value) => Ok(value.unbind()),
            None => Err(PyKeyError::new_err(name.to_string())),
        }
    }

    fn __setitem__(&mut self, py: Python<'_>, name: &str, value: Bound<'_, PyAny>) -> PyResult<()> {
        if name == "__classcell__" {
            self.class_cell = Some(value.unbind());
            return Ok(());
        }
        if BOOKKEEPING.contains(&name) {
            return Ok(());
        }
        self.remember(py, name)?;
        let class = self.class.bind(py);
        let value = match &self.rewrap {
            Some((wrapped, module_name)) if wrapped == name => {
                super::apply::rewrapped(py, class.as_any(), name, module_name.bind(py), &value)?
            }
            _ => value,
        };
        class.setattr(name, value)
    }

    fn __delitem__(&mut self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.remember(py, name)?;
        self.class.bind(py).delattr(name)
    }

    fn __contains__(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        Ok(self.own_value(py, name)?.is_some())
    }
}
