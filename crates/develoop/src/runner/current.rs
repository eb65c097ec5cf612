//! The run in progress, as the rest of the program reaches it: `jurigged.give` records
//! values in it, the wrapped `input` borrows the terminal for it, a save or a key aborts
//! it, and the patched `time.sleep` waits on its abort.
#![allow(unsafe_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::{PyTypeInfo, ffi};

use super::{Given, TerminalLender};
use crate::api::Abort;
use crate::capture::Capture;
use crate::output::SharedOutput;
use crate::unix::WakeChannel;

/// CPython's id of a thread, as `threading.get_ident()` gives it.
pub type ThreadId = std::os::raw::c_ulong;

/// The run in progress. Process-wide because those that reach it have no other way to the
/// runner: Python callables (`give`, the wrapped `input`), the engine's hook, a key on the
/// interface's thread and CPython's `time.sleep`. Every holder of the lock holds the GIL
/// and never waits for anything while it holds it.
static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

fn current() -> MutexGuard<'static, Option<Current>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Current {
    pub thread: ThreadId,
    pthread: libc::pthread_t,
    /// On the main thread an abort interrupts a blocking call with SIGINT; elsewhere
    /// `time.sleep` waits on `abort_wake`, which an abort nudges.
    is_main: bool,
    abort_wake: Option<Arc<WakeChannel>>,
    /// An abort was asked for: whatever the run raises, it was aborted.
    aborting: bool,
    given: Given,
    /// Given values are echoed by the interface as they come.
    echo_given: bool,
    /// With an interface that holds the terminal during runs.
    loan: Option<Loan>,
}

/// The run's output capture, put aside while the function has the terminal.
pub struct Loan {
    pub lender: Arc<dyn TerminalLender>,
    pub capture: Option<Capture>,
    pub out: SharedOutput,
    pub err: SharedOutput,
    pub columns: Option<u16>,
    /// Nested reads (pdb's `input()` inside its command loop) lend once.
    depth: usize,
}

impl Loan {
    pub fn new(
        lender: Arc<dyn TerminalLender>,
        capture: Option<Capture>,
        out: SharedOutput,
        err: SharedOutput,
        columns: Option<u16>,
    ) -> Loan {
        Loan {
            lender,
            capture,
            out,
            err,
            columns,
            depth: 0,
        }
    }
}

/// The calling thread's id.
pub fn thread_ident() -> ThreadId {
    // SAFETY: reads the calling thread's id; no precondition.
    unsafe { ffi::PyThread_get_thread_ident() }
}

impl Current {
    /// The calling thread's run; `is_main` as `threading` says.
    pub fn here(is_main: bool, given: Given, echo_given: bool, loan: Option<Loan>) -> Current {
        Current {
            thread: thread_ident(),
            // SAFETY: identifies the calling thread; no precondition.
            pthread: unsafe { libc::pthread_self() },
            is_main,
            // Without a channel such a run's sleep could not be aborted: then it sleeps
            // as CPython's would.
            abort_wake: (!is_main)
                .then(|| WakeChannel::new().ok().map(Arc::new))
                .flatten(),
            aborting: false,
            given,
            echo_given,
            loan,
        }
    }

    /// Makes it the run in progress.
    pub fn start(self) {
        *current() = Some(self);
    }
}

/// What a run left when it ended: whether it was aborted, and its capture if it lent.
pub struct Ended {
    pub aborted: bool,
    pub capture: Option<Capture>,
}

/// Ends the run in progress.
pub fn finish() -> Ended {
    let ended = current().take();
    Ended {
        aborted: ended.as_ref().is_some_and(|run| run.aborting),
        capture: ended.and_then(|run| run.loan).and_then(|loan| loan.capture),
    }
}

/// Interrupts the run in progress, even when it is blocked: an asynchronous Abort
/// exception; SIGINT for the main thread's syscall (`time.sleep`, sockets, locks), and for
/// another thread, where CPython retries a syscall that a signal interrupts, a wake-up for
/// the patched `time.sleep`.
pub fn abort(py: Python<'_>) {
    let mut guard = current();
    let Some(run) = guard.as_mut() else { return };
    run.aborting = true;
    let abort = Abort::type_object(py);
    // SAFETY: the GIL is held; the thread id is a live Python thread's (the run's, which
    // clears the run before it ends); SetAsyncExc takes its own reference to the type.
    unsafe { ffi::PyThreadState_SetAsyncExc(run.thread as _, abort.as_ptr()) };
    if run.is_main {
        // SAFETY: the run's thread is alive while it is the current run; Python's SIGINT
        // handler turns the signal into a flag the run then sees.
        unsafe { libc::pthread_kill(run.pthread, libc::SIGINT) };
    } else if let Some(wake) = &run.abort_wake {
        wake.nudge();
    }
}

/// Removes what an abort may have left behind: a pending asynchronous Abort and a pending
/// SIGINT, so that they never hit the loop itself.
pub fn clear_pending_abort(py: Python<'_>, thread: ThreadId) {
    cancel_async_abort(py, thread);
    // The SIGINT was ours: its KeyboardInterrupt is not the program's.
    discard_pending_signals(py);
}

/// Takes back an asynchronous Abort not yet raised on `thread`.
pub fn cancel_async_abort(_py: Python<'_>, thread: ThreadId) {
    // SAFETY: the GIL is held; a NULL exception clears the thread's pending one.
    unsafe { ffi::PyThreadState_SetAsyncExc(thread as _, std::ptr::null_mut()) };
}

/// Runs the pending signal handlers and drops the exception one raised (a SIGINT the loop
/// already acted on).
pub fn discard_pending_signals(_py: Python<'_>) {
    // SAFETY: the GIL is held. PyErr_CheckSignals sets the error it reports: clearing it
    // is ours to do.
    unsafe {
        if ffi::PyErr_CheckSignals() != 0 {
            ffi::PyErr_Clear();
        }
    }
}

/// For the patched `time.sleep`: the abort channel of the run on this thread, when it is
/// a run on a thread other than the main one.
pub fn worker_abort_wake(thread: ThreadId) -> Option<Arc<WakeChannel>> {
    current()
        .as_ref()
        .filter(|run| run.thread == thread)
        .and_then(|run| run.abort_wake.clone())
}

/// Whether the run on `thread` is being aborted.
pub fn aborting(thread: ThreadId) -> bool {
    current()
        .as_ref()
        .is_some_and(|run| run.thread == thread && run.aborting)
}

/// Records a value given during the current run; `None` when no run is active, else
/// whether the interface wants it echoed.
pub fn give(key: String, value: String) -> Option<bool> {
    let guard = current();
    let run = guard.as_ref()?;
    if let Ok(mut given) = run.given.lock() {
        given.push((key, value));
    }
    Some(run.echo_given)
}

/// Called before a read of stdin: if it happens on the run's thread while an interface
/// holds the terminal, the output goes back to the terminal and the interface steps
/// aside. Returns whether `take_terminal_back` must follow.
pub fn lend_terminal(py: Python<'_>) -> bool {
    let thread = thread_ident();
    let first = {
        let mut guard = current();
        let Some(loan) = guard
            .as_mut()
            .filter(|run| run.thread == thread)
            .and_then(|run| run.loan.as_mut())
        else {
            return false;
        };
        loan.depth += 1;
        (loan.depth == 1).then(|| (loan.capture.take(), loan.lender.clone()))
    };
    if let Some((capture, lender)) = first {
        jurigged_live::python::flush_std_streams(py);
        if let Some(capture) = capture {
            capture.stop();
        }
        py.detach(|| lender.lend());
    }
    true
}

/// After the read: the interface takes the terminal back and the output is captured again.
pub fn take_terminal_back(py: Python<'_>) {
    let last = {
        let mut guard = current();
        let Some(loan) = guard.as_mut().and_then(|run| run.loan.as_mut()) else {
            return;
        };
        loan.depth = loan.depth.saturating_sub(1);
        (loan.depth == 0).then(|| {
            (
                loan.lender.clone(),
                loan.out.clone(),
                loan.err.clone(),
                loan.columns,
            )
        })
    };
    if let Some((lender, out, err, columns)) = last {
        jurigged_live::python::flush_std_streams(py);
        py.detach(|| lender.take_back());
        let capture = Capture::start(out, err, false, columns).ok();
        if let Some(loan) = current().as_mut().and_then(|run| run.loan.as_mut()) {
            loan.capture = capture;
        }
    }
}
