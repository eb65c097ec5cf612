//! One run of the looped function: capture its output, make it the run in progress (for
//! aborts, `give` and terminal loans), call it, and record what it came to.

use std::time::Instant;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::buffering::BlockBuffering;
use super::current::{self, Current, Loan};
use super::{Given, Interface, Run, Status, sleep};
use crate::api::Abort;
use crate::capture::Capture;
use crate::output::{DEFAULT_MAX_LINES, shared};
use crate::unix::WakeChannel;
use jurigged_live::python::{flush_std_streams, format_traceback};

/// Lines kept per stream and run: JURIGGED_LOOP_MAX_LINES, or 100,000.
fn max_lines() -> usize {
    std::env::var("JURIGGED_LOOP_MAX_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_LINES)
}

impl Run {
    /// A run not started yet.
    pub fn new(number: usize, signature: &str, status: Status) -> Run {
        Run {
            number,
            signature: signature.to_string(),
            status,
            started: Instant::now(),
            seconds: 0.0,
            result: None,
            result_pretty: None,
            result_kind: None,
            error: None,
            given: Given::default(),
            stdout: shared(max_lines()),
            stderr: shared(max_lines()),
        }
    }
}

/// The looped call.
pub struct Call<'a, 'py> {
    pub function: &'a Bound<'py, PyAny>,
    pub args: &'a Bound<'py, PyTuple>,
    pub kwargs: Option<&'a Bound<'py, PyDict>>,
    /// An `async def` or a generator function: each call is awaited or driven.
    pub driving: bool,
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
        let driven = crate::drive::drive(py, value)?;
        Ok((driven.shown, driven.for_caller, driven.kind))
    }

    /// Runs it once as run `number`; `saves` is drained first, so only a save during the
    /// run wakes the wait after it.
    pub fn run(
        &self,
        py: Python<'_>,
        number: usize,
        signature: &str,
        interface: &mut dyn Interface,
        saves: &WakeChannel,
    ) -> (Run, PyResult<Py<PyAny>>) {
        let mut run = Run::new(number, signature, Status::Running);
        saves.drain();
        interface.started(&run);
        flush_std_streams(py);
        let capture = Capture::start(
            run.stdout.clone(),
            run.stderr.clone(),
            interface.live_output(),
            interface.columns(),
        )
        .ok();
        // With a lender, the capture lives in the loan, which puts it aside while the
        // function reads stdin.
        let (capture, loan) = match interface.lender() {
            Some(lender) => {
                let loan = Loan::new(
                    lender,
                    capture,
                    run.stdout.clone(),
                    run.stderr.clone(),
                    interface.columns(),
                );
                (None, Some(loan))
            }
            None => (capture, None),
        };
        let is_main = super::is_main_thread(py);
        if !is_main {
            sleep::install(py);
        }
        let this_run = Current::here(is_main, run.given.clone(), interface.live_output(), loan);
        let thread = this_run.thread;
        this_run.start();
        let start = Instant::now();
        // Shown later rather than live, output is block-buffered and flushed by a helper.
        let buffering = (!interface.live_output()).then(|| BlockBuffering::start(py));
        let outcome = self.make(py);
        if let Some(buffering) = buffering {
            buffering.stop(py);
        }
        run.seconds = start.elapsed().as_secs_f64();
        let ended = current::finish();
        // A save's abort, or Ctrl-C during the run: the loop survives both.
        let interrupted = matches!(&outcome, Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) || e.is_instance_of::<Abort>(py));
        let aborted = ended.aborted || interrupted;
        if aborted {
            current::clear_pending_abort(py, thread);
        }
        flush_std_streams(py);
        if let Some(capture) = capture.or(ended.capture) {
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
                run.error = Some(format_traceback(py, error));
            }
        }
        (run, outcome.map(|(_, for_caller)| for_caller))
    }
}
