//! The engine on a real interpreter started inside the test: modules compiled from strings,
//! plans from `jurigged_source::changes`, applied (and undone) in process.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::{FileChange, NotApplied, apply};
use crate::hooks::{self, Binder, Binding};
use crate::log::Logger;

/// Runs `test` attached to the interpreter, started on first use.
fn with_python<R>(test: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    Python::initialize();
    Python::attach(test)
}

/// A module loaded from `source` under `name`, as an import would leave it.
struct Loaded<'py> {
    module: Bound<'py, PyModule>,
    filename: String,
    source: String,
}

impl<'py> Loaded<'py> {
    fn new(py: Python<'py>, name: &str, source: &str) -> Loaded<'py> {
        // Never read: the engine finds the module by this name and compiles from strings.
        let filename = format!("/nonexistent/jurigged-live-tests/{name}.py");
        let module = PyModule::new(py, name).unwrap();
        module.setattr("__file__", &filename).unwrap();
        py.import("sys")
            .unwrap()
            .getattr("modules")
            .unwrap()
            .set_item(name, &module)
            .unwrap();
        let builtins = py.import("builtins").unwrap();
        let code = builtins
            .getattr("compile")
            .unwrap()
            .call1((source, &filename, "exec"))
            .unwrap();
        builtins
            .getattr("exec")
            .unwrap()
            .call1((code, module.dict()))
            .unwrap();
        Loaded {
            module,
            filename,
            source: source.to_string(),
        }
    }

    /// The plan that turns the loaded source into `new`, as a save would bring it.
    fn change_to(&self, new: &str) -> FileChange {
        let changes = jurigged_source::changes(&self.source, new).unwrap();
        let old: Arc<str> = Arc::from(self.source.as_str());
        FileChange {
            path: PathBuf::from(&self.filename),
            code_filename: self.filename.clone(),
            is_main: false,
            old_source: Arc::clone(&old),
            old_tree: changes.old_tree,
            loaded_source: old,
            running_aliases: Vec::new(),
            new_source: new.to_string(),
            new_tree: changes.new_tree,
            ops: changes.ops,
        }
    }

    /// Evaluates `expression` in the module's namespace.
    fn eval(&self, expression: &str) -> Bound<'py, PyAny> {
        let py = self.module.py();
        py.import("builtins")
            .unwrap()
            .getattr("eval")
            .unwrap()
            .call1((expression, self.module.dict()))
            .unwrap()
    }

    fn eval_int(&self, expression: &str) -> i64 {
        self.eval(expression).extract().unwrap()
    }
}

fn apply_ok(py: Python<'_>, changes: &[FileChange]) -> Vec<String> {
    match apply(py, changes, &Logger) {
        Ok(applied) => applied.done,
        Err(NotApplied { traceback }) => panic!("not applied:\n{traceback}"),
    }
}

#[test]
fn an_update_reaches_references_taken_before_it() {
    with_python(|py| {
        let loaded = Loaded::new(
            py,
            "update_in_place",
            "def f():\n    return 1\n\nkept = f\n",
        );
        let old_code = loaded.eval("f.__code__");
        let done = apply_ok(
            py,
            &[loaded.change_to("def f():\n    return 2\n\nkept = f\n")],
        );
        assert_eq!(done, ["Update update_in_place.f"]);
        assert!(!loaded.eval("f.__code__").is(&old_code));
        assert_eq!(loaded.eval_int("f()"), 2);
        // The same function object, so every reference sees the new code.
        assert_eq!(loaded.eval_int("kept()"), 2);
        assert!(loaded.eval("kept is f").is_truthy().unwrap());
    });
}

#[test]
fn a_method_update_reaches_existing_instances_and_keeps_super() {
    with_python(|py| {
        let loaded = Loaded::new(
            py,
            "method_update",
            "class Base:\n    def value(self):\n        return 10\n\n\
             class Child(Base):\n    def value(self):\n        return super().value() + 1\n\n\
             instance = Child()\nbound = instance.value\n",
        );
        assert_eq!(loaded.eval_int("bound()"), 11);
        apply_ok(
            py,
            &[loaded.change_to(
                "class Base:\n    def value(self):\n        return 10\n\n\
                 class Child(Base):\n    def value(self):\n        return super().value() + 5\n\n\
                 instance = Child()\nbound = instance.value\n",
            )],
        );
        assert_eq!(loaded.eval_int("instance.value()"), 15);
        assert_eq!(loaded.eval_int("bound()"), 15);
    });
}

#[test]
fn a_failing_batch_is_undone_whole() {
    with_python(|py| {
        let first = Loaded::new(py, "failing_first", "def f():\n    return 1\n");
        let second = Loaded::new(
            py,
            "failing_second",
            "def g():\n    return 1\n\ncount = 0\n",
        );
        let old_code = first.eval("f.__code__");
        // The statement after g's update calls it (so the update is committed before it
        // runs), then raises: the first file's update, g's, and the new name must all go.
        let changes = [
            first.change_to("def f():\n    return 2\n"),
            second.change_to(
                "def g():\n    return 2\n\ncount = g()\nadded = 1\nraise ValueError('boom')\n",
            ),
        ];
        let Err(NotApplied { traceback }) = apply(py, &changes, &Logger) else {
            panic!("a raising statement applied");
        };
        assert!(traceback.contains("ValueError: boom"), "{traceback}");
        assert!(first.eval("f.__code__").is(&old_code));
        assert_eq!(first.eval_int("f()"), 1);
        assert_eq!(second.eval_int("g()"), 1);
        assert_eq!(second.eval_int("count"), 0);
        assert!(!second.module.dict().contains("added").unwrap());
    });
}

#[test]
fn a_compile_error_changes_nothing() {
    with_python(|py| {
        let loaded = Loaded::new(py, "compile_error", "def f():\n    return 1\n");
        let old_code = loaded.eval("f.__code__");
        // Parses, but the compiler refuses it: it fails after f's update was prepared.
        let change = loaded.change_to("def f():\n    return 2\n\ndef g():\n    nonlocal x\n");
        let result = apply(py, &[change], &Logger);
        let Err(NotApplied { traceback }) = result else {
            panic!("an uncompilable save applied");
        };
        assert!(traceback.contains("SyntaxError"), "{traceback}");
        assert!(loaded.eval("f.__code__").is(&old_code));
        assert!(!loaded.module.dict().contains("g").unwrap());
    });
}

#[test]
fn lines_added_above_shift_the_functions_below() {
    with_python(|py| {
        let loaded = Loaded::new(
            py,
            "shifted",
            "def f():\n    return 1\n\ndef g():\n    return 2\n",
        );
        let function = loaded.eval("g");
        assert_eq!(loaded.eval_int("g.__code__.co_firstlineno"), 4);
        let done = apply_ok(
            py,
            &[loaded.change_to(
                "# a comment\n# another\n\ndef f():\n    return 1\n\ndef g():\n    return 2\n",
            )],
        );
        assert!(done.is_empty(), "a move reported as {done:?}");
        assert_eq!(loaded.eval_int("f.__code__.co_firstlineno"), 4);
        assert_eq!(loaded.eval_int("g.__code__.co_firstlineno"), 7);
        assert!(loaded.eval("g").is(&function));
        assert_eq!(loaded.eval_int("g()"), 2);
    });
}

#[test]
fn new_defaults_and_new_definitions_are_bound() {
    with_python(|py| {
        let loaded = Loaded::new(py, "defaults_and_adds", "def f(x=1):\n    return x\n");
        let done = apply_ok(
            py,
            &[loaded.change_to("def f(x=5):\n    return x\n\ndef h():\n    return f() * 2\n")],
        );
        assert_eq!(
            done,
            ["Update defaults_and_adds.f", "Add defaults_and_adds.h"]
        );
        assert_eq!(loaded.eval_int("f()"), 5);
        assert_eq!(loaded.eval_int("h()"), 10);
        assert_eq!(loaded.eval_int("h.__code__.co_firstlineno"), 4);
        assert_eq!(
            loaded
                .eval("h.__code__.co_filename")
                .extract::<String>()
                .unwrap(),
            loaded.filename
        );
    });
}

#[test]
fn a_deleted_function_leaves_its_module() {
    with_python(|py| {
        let loaded = Loaded::new(
            py,
            "deleted",
            "def f():\n    return 1\n\ndef g():\n    return 2\n",
        );
        let done = apply_ok(py, &[loaded.change_to("def f():\n    return 1\n")]);
        assert_eq!(done, ["Delete deleted.g"]);
        assert!(!loaded.module.dict().contains("g").unwrap());
        assert_eq!(loaded.eval_int("f()"), 1);
    });
}

/// Wraps new definitions in modules marked `__test_binder__` in a list, `[value]`.
struct ListBinder;

impl Binder for ListBinder {
    fn binds(&self, binding: &Binding<'_, '_>) -> bool {
        binding.holder().hasattr("__test_binder__").unwrap_or(false)
    }

    fn bind<'py>(
        &self,
        _binding: &Binding<'_, 'py>,
        value: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(pyo3::types::PyList::new(value.py(), [value])?.into_any())
    }
}

#[test]
fn a_binder_decides_what_new_definitions_bind_and_is_undone_with_the_batch() {
    with_python(|py| {
        hooks::set_binder(ListBinder);
        let loaded = Loaded::new(
            py,
            "bound_through",
            "__test_binder__ = True\n\nclass C:\n    pass\n",
        );
        let classes = Loaded::new(py, "not_marked", "class D:\n    pass\n");
        apply_ok(
            py,
            &[
                loaded.change_to(
                    "__test_binder__ = True\n\nclass C:\n    pass\n\ndef h():\n    return 3\n",
                ),
                classes.change_to("class D:\n    def m(self):\n        return 4\n"),
            ],
        );
        assert_eq!(loaded.eval_int("h[0]()"), 3);
        // An unmarked module binds as it is.
        assert_eq!(classes.eval_int("D().m()"), 4);

        // Bound, then undone with the batch that failed after it.
        let failing = Loaded::new(py, "bound_then_undone", "__test_binder__ = True\n");
        let result = apply(
            py,
            &[failing.change_to(
                "__test_binder__ = True\n\ndef k():\n    return 1\n\nraise KeyError('late')\n",
            )],
            &Logger,
        );
        hooks::clear_binder();
        assert!(result.is_err());
        assert!(!failing.module.dict().contains("k").unwrap());
    });
}

#[test]
fn class_level_changes_are_undone_when_the_batch_fails() {
    with_python(|py| {
        let loaded = Loaded::new(
            py,
            "class_undo",
            "class C:\n    limit = 1\n\n    def m(self):\n        return self.limit\n",
        );
        let class_dict = || {
            loaded
                .eval("dict(C.__dict__)")
                .cast_into::<PyDict>()
                .unwrap()
        };
        let before = class_dict();
        let result = apply(
            py,
            &[loaded.change_to(
                "class C:\n    limit = 2\n\n    def m(self):\n        return self.limit\n\n    def n(self):\n        return 0\n\nraise RuntimeError('after the class')\n",
            )],
            &Logger,
        );
        assert!(result.is_err());
        assert_eq!(loaded.eval_int("C.limit"), 1);
        assert_eq!(loaded.eval_int("C().m()"), 1);
        assert!(!class_dict().contains("n").unwrap());
        assert_eq!(before.len(), class_dict().len());
    });
}
