//! `time.sleep` made abortable on a thread other than the main one. There no signal can
//! end it (CPython retries the sleep after EINTR, and only the main thread handles
//! signals), so its C function is replaced, for every reference to it (`from time import
//! sleep` too), by one that behaves the same except during such a run.
#![allow(unsafe_code)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pyo3::ffi;
use pyo3::prelude::*;

use super::current::{self, thread_ident};
use crate::api::Abort;
use crate::unix::poll_readable;

/// `time.sleep`'s own C function, kept when `interruptible_sleep` takes its place. A static
/// because the replacement is called by CPython as a plain C function, with no state of
/// its own.
static ORIGINAL_SLEEP: OnceLock<ffi::PyCFunction> = OnceLock::new();

/// Puts `interruptible_sleep` in `time.sleep`'s place, once.
pub fn install(py: Python<'_>) {
    if ORIGINAL_SLEEP.get().is_some() {
        return;
    }
    let Ok(sleep) = py.import("time").and_then(|time| time.getattr("sleep")) else {
        return;
    };
    // SAFETY: the GIL is held (so nobody else installs meanwhile). A builtin function
    // object's method definition: time.sleep is METH_O and its definition is a static of
    // the time module, alive as long as we are.
    unsafe {
        if ffi::PyCFunction_Check(sleep.as_ptr()) == 0 {
            return;
        }
        let definition = (*sleep.as_ptr().cast::<ffi::PyCFunctionObject>()).m_ml;
        if definition.is_null() || (*definition).ml_flags != ffi::METH_O {
            return;
        }
        let original = (*definition).ml_meth.PyCFunction;
        if ORIGINAL_SLEEP.set(original).is_ok() {
            (*definition).ml_meth = ffi::PyMethodDefPointer {
                PyCFunction: interruptible_sleep,
            };
        }
    }
}

/// `time.sleep(seconds)`: during a looped run on a thread other than the main one, a wait
/// that an abort ends by raising Abort; anywhere else, and for anything but a plain
/// non-negative number, CPython's own.
unsafe extern "C" fn interruptible_sleep(
    module: *mut ffi::PyObject,
    seconds: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let Some(original) = ORIGINAL_SLEEP.get() else {
        return std::ptr::null_mut();
    };
    // SAFETY: called by CPython with the GIL held and a valid argument.
    unsafe {
        let thread = thread_ident();
        let plain = ffi::PyFloat_Check(seconds) != 0 || ffi::PyLong_Check(seconds) != 0;
        let wake = if plain {
            current::worker_abort_wake(thread)
        } else {
            None
        };
        let Some(wake) = wake else {
            return original(module, seconds);
        };
        let value = ffi::PyFloat_AsDouble(seconds);
        if !ffi::PyErr_Occurred().is_null() || value.is_nan() || value < 0.0 {
            // Raw FFI sets the error and leaves it: CPython's sleep reports it its way.
            ffi::PyErr_Clear();
            return original(module, seconds);
        }
        let py = Python::assume_attached();
        let deadline = Instant::now() + Duration::from_secs_f64(value.min(1e9));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Py_NewRef is 3.10+: the same, by hand, for 3.9.
                let none = ffi::Py_None();
                ffi::Py_IncRef(none);
                return none;
            }
            // At least a millisecond: a shorter wait would poll without waiting.
            let left = left.max(Duration::from_millis(1));
            let polled = py.detach(|| poll_readable(&[wake.fd()], Some(left)));
            if current::aborting(thread) {
                // Raised here rather than left pending: nothing after the sleep runs.
                current::cancel_async_abort(py, thread);
                PyErr::new::<Abort, _>(()).restore(py);
                return std::ptr::null_mut();
            }
            match polled {
                Ok(ready) if ready.contains(&true) => wake.drain(),
                Err(_) if ffi::PyErr_CheckSignals() != 0 => return std::ptr::null_mut(),
                _ => {}
            }
        }
    }
}
