//! The Python objects that stand for a function: `Develoop`, which enters the develoop
//! when called, and `LendsTerminal`, which lends the terminal to a read of stdin. Both
//! bind as methods and show the function's attributes, through their base `Wraps`.

use std::sync::OnceLock;

use pyo3::exceptions::{PyException, PySystemExit};
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::{PyDict, PyTuple};

use super::basic::Basic;
use super::runner::{self, Interface, LoopExit, is_loopable};
use super::tui::Rich;

/// `--loop-interface`, the default for loops that do not name one. Set once from the
/// command line before the program runs; loops are made anywhere in the program (a
/// decorator, `--loop`), so they read it here.
static DEFAULT_INTERFACE: OnceLock<String> = OnceLock::new();

pub fn set_default_interface(name: &str) {
    // Set once: a second install keeps the first command line's choice.
    let _ = DEFAULT_INTERFACE.set(name.to_string());
}

/// Stands for a function: bound as a method (`obj.method`) like the function, and
/// everything else (`__name__`, `__doc__`, ...) is the function's.
#[pyclass(module = "jurigged.loop", subclass)]
pub struct Wraps {
    function: Py<PyAny>,
}

#[pymethods]
impl Wraps {
    /// As a class attribute it binds like the method it wraps: `obj.method` calls it with
    /// `obj` first (a loop shows it as `Class.method(<Class>, ...)`).
    fn __get__(
        slf: Py<Self>,
        py: Python<'_>,
        instance: Option<Bound<'_, PyAny>>,
        _owner: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            Some(instance) if !instance.is_none() => Ok(py
                .import("types")?
                .getattr("MethodType")?
                .call1((slf, instance))?
                .unbind()),
            _ => Ok(slf.into_any()),
        }
    }

    #[getter]
    fn __wrapped__(&self, py: Python<'_>) -> Py<PyAny> {
        self.function.clone_ref(py)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        Ok(self.function.bind(py).getattr(name)?.unbind())
    }
}

/// A function that enters the develoop when called.
#[pyclass(module = "jurigged.loop", extends = Wraps)]
pub struct Develoop {
    only_on_error: bool,
    interface: Option<String>,
}

impl Develoop {
    pub fn wrap(
        py: Python<'_>,
        function: Py<PyAny>,
        only_on_error: bool,
        interface: Option<String>,
    ) -> PyResult<Py<Develoop>> {
        let looped = PyClassInitializer::from(Wraps { function }).add_subclass(Develoop {
            only_on_error,
            interface,
        });
        Py::new(py, looped)
    }

    /// The interface this loop shows itself in.
    fn open_interface(&self, py: Python<'_>) -> PyResult<Box<dyn Interface>> {
        let interface = self
            .interface
            .clone()
            .or_else(|| DEFAULT_INTERFACE.get().cloned())
            .unwrap_or_else(|| "rich".into());
        Ok(match interface.as_str() {
            // Basic is rich's fallback when stdin and stdout are not a terminal.
            "rich" => match Rich::new() {
                Some(rich) => {
                    if let Err(error) = wrap_stdin_readers(py) {
                        // Reads of stdin keep working, only without the terminal handed over.
                        error.print(py);
                    }
                    // Libraries colour their output: it is shown in colour.
                    py.import("os")?
                        .getattr("environ")?
                        .call_method1("setdefault", ("FORCE_COLOR", "1"))?;
                    Box::new(rich)
                }
                None => Box::new(Basic::new()),
            },
            "basic" => Box::new(Basic::new()),
            other => {
                return Err(PyException::new_err(format!(
                    "Unknown develoop interface: '{other}'"
                )));
            }
        })
    }
}

#[pymethods]
impl Develoop {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: PyRef<'_, Self>,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let function = slf.as_super().function.bind(py).clone();
        let first_error = if slf.only_on_error {
            // An `async def` or a generator fails only once awaited or driven.
            let called = function.call(args, kwargs).and_then(|value| {
                if super::drive::needs_driving(py, &function) {
                    let driven = super::drive::drive(py, value)?;
                    super::drive::hand_back(py, driven.for_caller)
                } else {
                    Ok(value.unbind())
                }
            });
            match called {
                Ok(value) => return Ok(value),
                Err(error) if is_loopable(py, &error) => Some(error),
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let mut interface = slf.open_interface(py)?;
        let ended = runner::run_loop(py, &function, args, kwargs, first_error, interface.as_mut());
        // The terminal is given back before the caller goes on or the program ends.
        drop(interface);
        match ended {
            Ok(value) => Ok(value),
            Err(LoopExit::Raise(error)) => Err(error),
            Err(LoopExit::Quit) if runner::is_main_thread(py) => Err(PySystemExit::new_err(1)),
            // On another thread SystemExit would end only that thread (threading swallows
            // it) and the program would go on: end the process as an exit would.
            Err(LoopExit::Quit) => jurigged_live::python::exit_from_thread(py, 1),
        }
    }
}

/// A function that reads stdin (`input`, `cmd.Cmd.cmdloop`, which pdb runs), wrapped so
/// that a looped function calling it on its run's thread gets the terminal from the
/// interface for the read and gives it back after; anywhere else it is the function itself.
#[pyclass(module = "jurigged.loop", extends = Wraps)]
struct LendsTerminal;

impl LendsTerminal {
    fn wrap(py: Python<'_>, function: Py<PyAny>) -> PyResult<Py<LendsTerminal>> {
        Py::new(
            py,
            PyClassInitializer::from(Wraps { function }).add_subclass(LendsTerminal),
        )
    }
}

#[pymethods]
impl LendsTerminal {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: PyRef<'_, Self>,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let function = slf.as_super().function.clone_ref(py);
        // Released: the read may take a long time, and other calls may come meanwhile.
        drop(slf);
        let lent = runner::lend_terminal(py);
        let result = function.bind(py).call(args, kwargs);
        if lent {
            runner::take_terminal_back(py);
        }
        Ok(result?.unbind())
    }
}

/// Wraps `input` and `cmd.Cmd.cmdloop` (pdb's prompt loop: the terminal is lent for a
/// whole debugger stop, so what pdb prints between prompts is on the terminal too), once,
/// when a rich loop first starts.
fn wrap_stdin_readers(py: Python<'_>) -> PyResult<()> {
    // Once per process, like the builtins it changes.
    static WRAPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WRAPPED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let builtins = py.import("builtins")?;
    let input = builtins.getattr("input")?.unbind();
    builtins.setattr("input", LendsTerminal::wrap(py, input)?)?;
    let command_class = py.import("cmd")?.getattr("Cmd")?;
    let cmdloop = command_class.getattr("cmdloop")?.unbind();
    command_class.setattr("cmdloop", LendsTerminal::wrap(py, cmdloop)?)?;
    Ok(())
}
