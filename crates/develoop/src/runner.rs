//! The develoop's engine: run a function with its caller's arguments, record each run
//! (status, time, result, error, given values, output), then wait for a command: rerun,
//! abort, continue (return to the caller) or quit. Every save that patches code reruns it,
//! aborting the current run first. Interfaces only render runs and read keys.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTypeInfo, ffi};

use super::api::Abort;
use super::capture::Capture;
use super::format::{Shown, signature};
use super::output::{DEFAULT_MAX_LINES, SharedOutput, shared};

/// Values given during a run, shared so an interface can show them as they come.
pub type Given = Arc<Mutex<Vec<(String, String)>>>;

/// What a run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Done,
    Error,
    Aborted,
}

/// One run of the looped function, as data any interface renders.
pub struct Run {
    pub number: usize,
    pub signature: String,
    pub status: Status,
    pub started: Instant,
    pub seconds: f64,
    /// `str(result)` when it returned.
    pub result: Option<String>,
    /// `pprint.pformat(result)`, for interfaces with room for it.
    pub result_pretty: Option<String>,
    /// How the result was had from an `async def` or a generator: `awaited`,
    /// `generator: 3 items yielded`...; `None` for a plain call.
    pub result_kind: Option<String>,
    /// The traceback (the program's frames only) when it raised.
    pub error: Option<String>,
    pub given: Given,
    pub stdout: SharedOutput,
    pub stderr: SharedOutput,
}

/// What the user (or a save) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Rerun,
    /// The post-mortem debugger on that run's error.
    Debug(usize),
    Continue,
    Quit,
    /// Ctrl-C while waiting: KeyboardInterrupt goes to the caller, as without the loop.
    Interrupted,
}

/// Renders runs and reads commands.
pub trait Interface {
    /// Whether the run's output is shown as it comes (copied to the real streams).
    fn live_output(&self) -> bool;
    fn started(&mut self, run: &Run);
    fn finished(&mut self, run: &Run);
    /// Blocks until a command; `wake` becomes readable when a save patched code.
    fn wait(&mut self, py: Python<'_>, wake: RawFd) -> Command;
    /// The width a run's output is given (its terminal's columns), if the interface has one.
    fn columns(&self) -> Option<u16> {
        None
    }
    /// Lets go of the terminal (for the debugger), then takes it back.
    fn suspend(&mut self) {}
    fn resume(&mut self) {}
    /// How the function, while it runs, borrows the terminal to read stdin (`input()`,
    /// pdb), for an interface that holds the terminal during runs.
    fn lender(&self) -> Option<Arc<dyn TerminalLender>> {
        None
    }
}

/// Gives the terminal to the running function and takes it back, from its thread.
pub trait TerminalLender: Send + Sync {
    fn lend(&self);
    fn take_back(&self);
}

/// The run's output capture, put aside while the function has the terminal.
struct Loan {
    thread: std::os::raw::c_ulong,
    lender: Arc<dyn TerminalLender>,
    capture: Option<Capture>,
    out: SharedOutput,
    err: SharedOutput,
    columns: Option<u16>,
    /// Nested reads (pdb's `input()` inside its command loop) lend once.
    depth: usize,
}

static LOAN: Mutex<Option<Loan>> = Mutex::new(None);

/// Called before a read of stdin: if it happens on the run's thread while an interface
/// holds the terminal, the output goes back to the terminal and the interface steps
/// aside. Returns whether `take_terminal_back` must follow.
pub fn lend_terminal(py: Python<'_>) -> bool {
    // SAFETY: identifying the calling thread.
    let thread = unsafe { ffi::PyThread_get_thread_ident() };
    let first = {
        let mut guard = LOAN.lock().unwrap_or_else(|e| e.into_inner());
        let Some(loan) = guard.as_mut().filter(|loan| loan.thread == thread) else {
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
        let mut guard = LOAN.lock().unwrap_or_else(|e| e.into_inner());
        let Some(loan) = guard.as_mut() else { return };
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
        if let Some(loan) = LOAN.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            loan.capture = capture;
        }
    }
}

/// The run in progress, for aborts and `give`.
struct Active {
    thread: std::os::raw::c_ulong,
    pthread: libc::pthread_t,
    is_main: bool,
    given: Given,
    /// Given values are echoed by the interface as they come.
    echo_given: bool,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);
static ABORTING: AtomicBool = AtomicBool::new(false);

/// A non-blocking pipe, for waking a thread that polls (read end, write end).
pub(super) fn wake_channel() -> (RawFd, RawFd) {
    let mut ends = [-1; 2];
    // SAFETY: creating a pipe; its fds are owned by the caller.
    unsafe {
        libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    (ends[0], ends[1])
}

/// Wakes whoever polls the read end of a `wake_channel`.
pub(super) fn nudge(write_end: RawFd) {
    // SAFETY: a one-byte write to a non-blocking pipe.
    unsafe {
        libc::write(write_end, b"!".as_ptr().cast(), 1);
    }
}

/// Empties the read end of a `wake_channel`.
pub(super) fn drain(read_end: RawFd) {
    let mut buffer = [0u8; 64];
    // SAFETY: non-blocking reads into a local buffer.
    while unsafe { libc::read(read_end, buffer.as_mut_ptr().cast(), buffer.len()) } > 0 {}
}

/// A pipe written to when a save patched code: wakes a loop waiting for a key.
fn wake_pipe() -> (RawFd, RawFd) {
    static PIPE: OnceLock<(RawFd, RawFd)> = OnceLock::new();
    *PIPE.get_or_init(wake_channel)
}

/// Called (holding the GIL) after a save was applied: a waiting loop reruns, a running one
/// is aborted first.
pub fn patch_applied(py: Python<'_>) {
    nudge(wake_pipe().1);
    abort_current(py);
}

/// Interrupts the run in progress, even when it is blocked: an asynchronous Abort
/// exception; SIGINT for the main thread's syscall (`time.sleep`, sockets, locks), and for
/// another thread, where CPython retries a syscall that a signal interrupts, a wake-up for
/// `interruptible_sleep`.
pub fn abort_current(py: Python<'_>) {
    let guard = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(active) = guard.as_ref() else { return };
    ABORTING.store(true, Ordering::SeqCst);
    let abort = Abort::type_object(py);
    // SAFETY: the GIL is held; the thread id is the run's Python thread.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(active.thread as _, abort.as_ptr());
        if active.is_main {
            libc::pthread_kill(active.pthread, libc::SIGINT);
        } else {
            nudge(abort_pipe().1);
        }
    }
}

/// Written to when a run on a thread other than the main one is aborted.
fn abort_pipe() -> (RawFd, RawFd) {
    static PIPE: OnceLock<(RawFd, RawFd)> = OnceLock::new();
    *PIPE.get_or_init(wake_channel)
}

/// The Python thread id of a run on a thread other than the main one; 0 when none.
static WORKER_RUN: AtomicU64 = AtomicU64::new(0);
/// `time.sleep`'s own C function, kept when `interruptible_sleep` takes its place.
static ORIGINAL_SLEEP: OnceLock<ffi::PyCFunction> = OnceLock::new();

/// Makes `time.sleep` abortable on any thread. On a thread other than the main one no
/// signal can end it (CPython retries the sleep after EINTR, and only the main thread
/// handles signals), so its C function is replaced, for every reference to it (`from time
/// import sleep` too), by one that behaves the same except during such a run.
fn install_interruptible_sleep(py: Python<'_>) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let Ok(sleep) = py.import("time").and_then(|time| time.getattr("sleep")) else {
            // SAFETY: clearing a failed lookup.
            unsafe { ffi::PyErr_Clear() };
            return;
        };
        // SAFETY: a builtin function object's method definition: time.sleep is METH_O
        // and its definition is a static of the time module, alive as long as we are.
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
    });
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
        let run = WORKER_RUN.load(Ordering::SeqCst);
        let plain = ffi::PyFloat_Check(seconds) != 0 || ffi::PyLong_Check(seconds) != 0;
        if run == 0 || ffi::PyThread_get_thread_ident() != run || !plain {
            return original(module, seconds);
        }
        let value = ffi::PyFloat_AsDouble(seconds);
        if !ffi::PyErr_Occurred().is_null() || value.is_nan() || value < 0.0 {
            ffi::PyErr_Clear();
            return original(module, seconds);
        }
        let deadline = Instant::now() + std::time::Duration::from_secs_f64(value.min(1e9));
        let wake = abort_pipe().0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Py_NewRef is 3.10+: the same, by hand, for 3.9.
                let none = ffi::Py_None();
                ffi::Py_IncRef(none);
                return none;
            }
            let mut fds = [libc::pollfd {
                fd: wake,
                events: libc::POLLIN,
                revents: 0,
            }];
            let milliseconds = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            let state = ffi::PyEval_SaveThread();
            let polled = libc::poll(fds.as_mut_ptr(), 1, milliseconds);
            ffi::PyEval_RestoreThread(state);
            if ABORTING.load(Ordering::SeqCst) {
                // Raised here rather than left pending: nothing after the sleep runs.
                ffi::PyThreadState_SetAsyncExc(run as _, std::ptr::null_mut());
                let py = Python::assume_attached();
                PyErr::new::<Abort, _>(()).restore(py);
                return std::ptr::null_mut();
            }
            if polled > 0 {
                drain(wake);
            } else if polled < 0 && ffi::PyErr_CheckSignals() != 0 {
                return std::ptr::null_mut();
            }
        }
    }
}

/// Records a value given during the current run; false when no run is active.
pub fn give(key: String, value: String) -> Option<bool> {
    let mut guard = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    let active = guard.as_mut()?;
    if let Ok(mut given) = active.given.lock() {
        given.push((key, value));
    }
    Some(active.echo_given)
}

/// Lines kept per stream and run: JURIGGED_LOOP_MAX_LINES, or 100,000.
fn max_lines() -> usize {
    std::env::var("JURIGGED_LOOP_MAX_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_LINES)
}

/// How a loop ended without returning a value.
pub enum LoopExit {
    /// The error the caller gets (the last run's, or KeyboardInterrupt).
    Raise(PyErr),
    /// `q`: the program ends with status 1.
    Quit,
}

impl From<PyErr> for LoopExit {
    fn from(error: PyErr) -> LoopExit {
        LoopExit::Raise(error)
    }
}

/// Runs the develoop for one call. `first_error` is the error an `xloop` caught.
pub fn run_loop(
    py: Python<'_>,
    function: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    first_error: Option<PyErr>,
    interface: &mut dyn Interface,
) -> Result<Py<PyAny>, LoopExit> {
    let signature = describe_call(function, args, kwargs);
    let driving = super::drive::needs_driving(py, function);
    let mut number = 0;
    let mut last: Result<Py<PyAny>, PyErr> = Ok(py.None());
    // Errors by run, for the debugger.
    let mut errors: Vec<(usize, PyErr)> = Vec::new();
    let mut command = Command::Rerun;
    if let Some(error) = first_error {
        let run = Run {
            number,
            signature: signature.clone(),
            status: Status::Error,
            started: Instant::now(),
            seconds: 0.0,
            result: None,
            result_pretty: None,
            result_kind: None,
            error: Some(jurigged_live::python::format_traceback(py, &error)),
            given: Given::default(),
            stdout: shared(max_lines()),
            stderr: shared(max_lines()),
        };
        interface.started(&run);
        interface.finished(&run);
        errors.push((0, error.clone_ref(py)));
        last = Err(error);
        command = interface.wait(py, wake_pipe().0);
    }
    loop {
        match command {
            Command::Continue if driving => return Ok(super::drive::hand_back(py, last?)?),
            Command::Continue => return Ok(last?),
            Command::Quit => return Err(LoopExit::Quit),
            Command::Interrupted => return Err(PyKeyboardInterrupt::new_err(()).into()),
            Command::Debug(wanted) => {
                if let Some((_, error)) = errors.iter().find(|(n, _)| *n == wanted) {
                    interface.suspend();
                    crate::extensions::post_mortem(py, error);
                    interface.resume();
                }
            }
            Command::Rerun => {
                number += 1;
                let call = Call {
                    function,
                    args,
                    kwargs,
                    driving,
                };
                let (run, outcome) = run_once(py, &call, number, &signature, interface);
                interface.finished(&run);
                if let Err(error) = &outcome {
                    errors.push((number, error.clone_ref(py)));
                    if errors.len() > 50 {
                        errors.remove(0);
                    }
                }
                if run.status != Status::Aborted {
                    last = outcome;
                }
            }
        }
        command = interface.wait(py, wake_pipe().0);
    }
}

/// The looped call.
struct Call<'a, 'py> {
    function: &'a Bound<'py, PyAny>,
    args: &'a Bound<'py, PyTuple>,
    kwargs: Option<&'a Bound<'py, PyDict>>,
    /// An `async def` or a generator function: each call is awaited or driven.
    driving: bool,
}

impl Call<'_, '_> {
    /// Calls the function, awaiting or driving what it returns: (what the run shows, what
    /// the caller gets (when driving, what makes it: see `drive::hand_back`), how it was
    /// had).
    fn make(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Py<PyAny>, Option<String>)> {
        let value = self.function.call(self.args, self.kwargs)?;
        if !self.driving {
            let value = value.unbind();
            return Ok((value.clone_ref(py), value, None));
        }
        let driven = super::drive::drive(py, value)?;
        Ok((driven.shown, driven.for_caller, driven.kind))
    }
}

fn run_once(
    py: Python<'_>,
    call: &Call<'_, '_>,
    number: usize,
    signature: &str,
    interface: &mut dyn Interface,
) -> (Run, Result<Py<PyAny>, PyErr>) {
    let mut run = Run {
        number,
        signature: signature.to_string(),
        status: Status::Running,
        started: Instant::now(),
        seconds: 0.0,
        result: None,
        result_pretty: None,
        result_kind: None,
        error: None,
        given: Given::default(),
        stdout: shared(max_lines()),
        stderr: shared(max_lines()),
    };
    drain(wake_pipe().0);
    interface.started(&run);
    jurigged_live::python::flush_std_streams(py);
    let capture = Capture::start(
        run.stdout.clone(),
        run.stderr.clone(),
        interface.live_output(),
        interface.columns(),
    )
    .ok();
    // SAFETY: identifying the calling thread.
    let thread = unsafe { ffi::PyThread_get_thread_ident() };
    // With a lender, the capture lives in the loan, which puts it aside while the function
    // reads stdin.
    let capture = match interface.lender() {
        Some(lender) => {
            *LOAN.lock().unwrap_or_else(|e| e.into_inner()) = Some(Loan {
                thread,
                lender,
                capture,
                out: run.stdout.clone(),
                err: run.stderr.clone(),
                columns: interface.columns(),
                depth: 0,
            });
            None
        }
        None => capture,
    };
    // SAFETY: identifying the calling thread.
    let pthread = unsafe { libc::pthread_self() };
    let is_main = is_main_thread(py);
    if !is_main {
        install_interruptible_sleep(py);
        drain(abort_pipe().0);
        WORKER_RUN.store(thread, Ordering::SeqCst);
    }
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Active {
        thread,
        pthread,
        is_main,
        given: run.given.clone(),
        echo_given: interface.live_output(),
    });
    let start = Instant::now();
    // Shown later rather than live, output is block-buffered and flushed by a helper every
    // few frames: a line-buffered terminal costs a system call per line (a million lines:
    // seconds), this costs one per 8 KB.
    let buffering = (!interface.live_output()).then(|| BlockBuffering::start(py));
    let outcome = call.make(py);
    if let Some(buffering) = buffering {
        buffering.stop(py);
    }
    run.seconds = start.elapsed().as_secs_f64();
    WORKER_RUN.store(0, Ordering::SeqCst);
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
    // A save's abort, or Ctrl-C during the run: the loop survives both.
    let interrupted = matches!(&outcome, Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) || e.is_instance_of::<Abort>(py));
    let aborted = ABORTING.swap(false, Ordering::SeqCst) || interrupted;
    if aborted {
        clear_pending_abort(py, thread);
    }
    jurigged_live::python::flush_std_streams(py);
    let loan = LOAN.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(capture) = capture.or_else(|| loan.and_then(|loan| loan.capture)) {
        capture.stop();
    }
    let outcome = match outcome {
        Ok((shown, for_caller, kind)) => {
            run.result_kind = kind;
            Ok((shown, for_caller))
        }
        Err(error) => Err(error),
    };
    match &outcome {
        _ if aborted => run.status = Status::Aborted,
        Ok((value, _)) => {
            run.status = Status::Done;
            let value = value.bind(py);
            run.result = Some(
                value
                    .str()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| "<unprintable result>".into()),
            );
            run.result_pretty = py
                .import("pprint")
                .and_then(|pprint| pprint.call_method1("pformat", (value,))?.extract())
                .ok();
        }
        Err(error) => {
            run.status = Status::Error;
            run.error = Some(jurigged_live::python::format_traceback(py, error));
        }
    }
    (run, outcome.map(|(_, for_caller)| for_caller))
}

/// sys.stdout and sys.stderr block-buffered for a run, flushed every 30 ms from a Rust
/// thread (no Python thread the program could see).
struct BlockBuffering {
    /// (stream, line_buffering, write_through) as they were.
    previous: Vec<(Py<PyAny>, Py<PyAny>, Py<PyAny>)>,
    stop: std::sync::mpsc::Sender<()>,
    flusher: std::thread::JoinHandle<()>,
}

impl BlockBuffering {
    fn start(py: Python<'_>) -> BlockBuffering {
        let mut previous = Vec::new();
        if let Ok(sys) = py.import("sys") {
            for name in ["stdout", "stderr"] {
                let Ok(stream) = sys.getattr(name) else {
                    continue;
                };
                let (Ok(line_buffering), Ok(write_through)) = (
                    stream.getattr("line_buffering"),
                    stream.getattr("write_through"),
                ) else {
                    continue;
                };
                // PYTHONUNBUFFERED makes them write through: buffer them all the same.
                let keywords = PyDict::new(py);
                let _ = keywords.set_item("line_buffering", false);
                let _ = keywords.set_item("write_through", false);
                if stream
                    .call_method("reconfigure", (), Some(&keywords))
                    .is_ok()
                {
                    previous.push((
                        stream.unbind(),
                        line_buffering.unbind(),
                        write_through.unbind(),
                    ));
                }
            }
        }
        // SAFETY: clearing a failed optional lookup.
        unsafe { ffi::PyErr_Clear() };
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let flusher = std::thread::spawn(move || {
            let every = std::time::Duration::from_millis(30);
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                Python::attach(jurigged_live::python::flush_std_streams);
            }
        });
        BlockBuffering {
            previous,
            stop,
            flusher,
        }
    }

    fn stop(self, py: Python<'_>) {
        let _ = self.stop.send(());
        let flusher = self.flusher;
        py.detach(|| {
            let _ = flusher.join();
        });
        jurigged_live::python::flush_std_streams(py);
        for (stream, line_buffering, write_through) in self.previous {
            let keywords = PyDict::new(py);
            let _ = keywords.set_item("line_buffering", line_buffering);
            let _ = keywords.set_item("write_through", write_through);
            let _ = stream
                .bind(py)
                .call_method("reconfigure", (), Some(&keywords));
        }
        // SAFETY: clearing a failed best-effort restore.
        unsafe { ffi::PyErr_Clear() };
    }
}

/// Removes what an abort may have left behind: a pending asynchronous Abort and a pending
/// SIGINT, so that they never hit the loop itself.
fn clear_pending_abort(_py: Python<'_>, thread: std::os::raw::c_ulong) {
    // SAFETY: the GIL is held; a NULL exception clears the thread's pending one.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(thread as _, std::ptr::null_mut());
        // The SIGINT was ours: its KeyboardInterrupt is not the program's.
        if ffi::PyErr_CheckSignals() != 0 {
            ffi::PyErr_Clear();
        }
    }
}

pub fn is_main_thread(py: Python<'_>) -> bool {
    py.import("threading")
        .and_then(|threading| {
            let current = threading.call_method0("current_thread")?;
            let main = threading.call_method0("main_thread")?;
            Ok(current.is(&main))
        })
        .unwrap_or(false)
}

/// `fn(args)` as jurigged shows a call.
fn describe_call(
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
        || value.is_instance_of::<pyo3::types::PyBool>()
        || value.is_instance_of::<pyo3::types::PyInt>()
        || value.is_instance_of::<pyo3::types::PyFloat>()
        || value.is_instance_of::<pyo3::types::PyComplex>();
    if plain {
        return Shown::Plain(value.str().map(|s| s.to_string()).unwrap_or_default());
    }
    if value.is_instance_of::<pyo3::types::PyString>() {
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

/// Whether an exception enters an `xloop` (Exception, not SystemExit and friends).
pub fn is_loopable(py: Python<'_>, error: &PyErr) -> bool {
    error.is_instance_of::<PyException>(py)
}
