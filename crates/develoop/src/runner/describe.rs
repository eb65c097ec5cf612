//! How the runner names a call: `fn(args)`, as jurigged shows it.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyComplex, PyDict, PyFloat, PyInt, PyString, PyTuple};

use crate::format::{Shown, signature};

/// `fn(args)` as jurigged shows a call.
pub fn describe_call(
    function: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> String {
    let name: String = function
        .getattr("__qualname__")
        .and_then(|q| q.extract())
        .unwrap_or_else(|_| "<function>".into());
    let shown: Vec<Shown> = args.iter().map(|a| show(&a)).collect();
    let keywords: Vec<(String, Shown)> = kwargs
        .map(|kw| kw.iter().map(|(k, v)| (k.to_string(), show(&v))).collect())
        .unwrap_or_default();
    signature(&name, &shown, &keywords)
}

fn show(value: &Bound<'_, PyAny>) -> Shown {
    let type_name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let plain = value.is_none()
        || value.is_instance_of::<PyBool>()
        || value.is_instance_of::<PyInt>()
        || value.is_instance_of::<PyFloat>()
        || value.is_instance_of::<PyComplex>();
    if plain {
        return Shown::Plain(value.str().map(|s| s.to_string()).unwrap_or_default());
    }
    if value.is_instance_of::<PyString>() {
        return Shown::Text(value.repr().map(|s| s.to_string()).unwrap_or_default());
    }
    let callable_kinds = ["function", "builtin_function_or_method", "method"];
    if callable_kinds.contains(&type_name.as_str()) {
        let qualname = value
            .getattr("__qualname__")
            .and_then(|q| q.extract::<String>())
            .unwrap_or_default();
        return Shown::Function(qualname);
    }
    Shown::Other(type_name)
}
