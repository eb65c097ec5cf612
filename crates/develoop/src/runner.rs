//! The develoop's engine: run a function with its caller's arguments, record each run
//! (status, time, result, error, given values, output), then wait for a command: rerun,
//! abort, continue (return to the caller) or quit. Every save that patches code reruns it,
//! aborting the current run first. Interfaces only render runs and read keys.
//!
//! Here the loop; `once` makes one run, `current` is the run in progress as the program
//! reaches it (aborts, `give`, terminal loans), `sleep` makes `time.sleep` abortable on
//! other threads, `buffering` block-buffers a run's output, `describe` names the call.

mod buffering;
mod current;
mod describe;
mod once;
mod sleep;

use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::output::SharedOutput;
use super::unix::WakeChannel;
pub use current::{
    abort as abort_current, discard_pending_signals, give, lend_terminal, take_terminal_back,
};
use describe::describe_call;
use once::Call;

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
    fn wait(&mut self, py: Python<'_>, wake: BorrowedFd<'_>) -> Command;
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

/// Woken when a save patched code: a loop waiting for a key reruns. Process-wide because
/// the save comes from the engine's hook, which has no way to the loops.
static SAVES: OnceLock<WakeChannel> = OnceLock::new();

fn saves() -> std::io::Result<&'static WakeChannel> {
    if let Some(saves) = SAVES.get() {
        return Ok(saves);
    }
    let created = WakeChannel::new()?;
    Ok(SAVES.get_or_init(|| created))
}

/// Called (holding the GIL) after a save was applied: a waiting loop reruns, a running one
/// is aborted first.
pub fn patch_applied(py: Python<'_>) {
    if let Ok(saves) = saves() {
        saves.nudge();
    }
    abort_current(py);
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
    let saves = saves().map_err(PyErr::from)?;
    let signature = describe_call(function, args, kwargs);
    let driving = super::drive::needs_driving(py, function);
    let mut number = 0;
    let mut last: Result<Py<PyAny>, PyErr> = Ok(py.None());
    // Errors by run, for the debugger.
    let mut errors: Vec<(usize, PyErr)> = Vec::new();
    let mut command = Command::Rerun;
    if let Some(error) = first_error {
        let mut run = Run::new(number, &signature, Status::Error);
        run.error = Some(jurigged_live::python::format_traceback(py, &error));
        interface.started(&run);
        interface.finished(&run);
        errors.push((0, error.clone_ref(py)));
        last = Err(error);
        command = interface.wait(py, saves.fd());
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
                let (run, outcome) = call.run(py, number, &signature, interface, saves);
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
        command = interface.wait(py, saves.fd());
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

/// Whether an exception enters an `xloop` (Exception, not SystemExit and friends).
pub fn is_loopable(py: Python<'_>, error: &PyErr) -> bool {
    error.is_instance_of::<PyException>(py)
}
