//! The audit hook that sees every module body run: CPython's `PySys_AddAuditHook`, which
//! pyo3 does not wrap. A hook cannot be removed, so it is installed once per process and
//! forwards to the running session (doing nothing while none runs).
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyCode;

unsafe extern "C" {
    fn PySys_AddAuditHook(
        hook: unsafe extern "C" fn(*const c_char, *mut ffi::PyObject, *mut c_void) -> c_int,
        user_data: *mut c_void,
    ) -> c_int;
}

/// Installs the hook, the first time only.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: the hook is a plain function that never fails and keeps no Python state;
        // it needs no user data.
        unsafe {
            PySys_AddAuditHook(audit_hook, std::ptr::null_mut());
        }
    });
}

/// Sees every `exec` of a code object (module bodies included) and registers its file.
unsafe extern "C" fn audit_hook(
    event: *const c_char,
    args: *mut ffi::PyObject,
    _user_data: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a NUL-terminated event name that lives for the call.
    if unsafe { CStr::from_ptr(event) }.to_bytes() != b"exec" {
        return 0;
    }
    // SAFETY: audit hooks run on a thread that holds the GIL.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: for "exec", `args` is a tuple borrowed for the call, whose first item is the
    // code object.
    let args = unsafe { Bound::from_borrowed_ptr(py, args) };
    // pyo3's fallible calls take the error they raise: the hook leaves none behind.
    if let Ok(code) = args.get_item(0)
        && code.is_instance_of::<PyCode>()
        && let Ok(filename) = code
            .getattr("co_filename")
            .and_then(|f| f.extract::<String>())
        && !filename.starts_with('<')
    {
        crate::register::register(&filename, None, false);
    }
    0
}
