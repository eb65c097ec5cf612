//! A live class seen as a class body's namespace.
//!
//! New methods and changed class-level statements are run by executing (part of) the class
//! body's code with this mapping as its locals: names defined go onto the existing class
//! (so existing instances see them), names read come from the class and then the module,
//! as in a real class body. Every change is recorded so that it can be undone.

use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyType};

use crate::hooks::{Binder, Binding};

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
    /// What the body changed in the class dict, in order.
    undo: Vec<Previous>,
    /// The `__class__` cell of the body, bound to the live class once the body ran.
    class_cell: Option<Py<PyAny>>,
    through: Option<BindThrough>,
}

/// A name of the class dict before the body set or deleted it.
struct Previous {
    name: String,
    /// None: the class had no such name of its own.
    value: Option<Py<PyAny>>,
}

/// A new definition the body binds through a binder hook.
pub struct BindThrough {
    pub binder: Arc<dyn Binder>,
    pub name: String,
    /// The module the body runs in.
    pub module: Py<PyModule>,
}

impl ClassNamespace {
    pub fn new(class: Py<PyType>, through: Option<BindThrough>) -> ClassNamespace {
        ClassNamespace {
            class,
            undo: Vec::new(),
            class_cell: None,
            through,
        }
    }

    /// Points `super()` and `__class__` in the methods just defined at the live class.
    pub fn bind_class_cell(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(cell) = &self.class_cell {
            cell.bind(py)
                .setattr("cell_contents", self.class.bind(py))?;
        }
        Ok(())
    }

    /// Puts the class back as it was before this namespace touched it. Best effort: a
    /// restore the class refuses does not stop the others.
    pub fn undo(&mut self, py: Python<'_>) {
        let class = self.class.bind(py);
        for previous in self.undo.drain(..).rev() {
            let _ = match previous.value {
                Some(value) => class.setattr(previous.name.as_str(), value),
                None => class.delattr(previous.name.as_str()),
            };
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
        let value = self.own_value(py, name)?.map(Bound::unbind);
        self.undo.push(Previous {
            name: name.to_string(),
            value,
        });
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
        let value = match &self.through {
            Some(through) if through.name == name => {
                let binding = Binding {
                    module: through.module.bind(py),
                    class: Some(class),
                    name,
                };
                through.binder.bind(&binding, value)?
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
