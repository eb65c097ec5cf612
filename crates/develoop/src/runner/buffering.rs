//! Output block-buffered during a run shown later rather than live: a line-buffered
//! terminal costs a system call per line (a million lines: seconds), this costs one per
//! 8 KB.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use jurigged_live::python::flush_std_streams;

/// sys.stdout and sys.stderr block-buffered for a run, flushed every 30 ms from a Rust
/// thread (no Python thread the program could see).
pub struct BlockBuffering {
    /// (stream, line_buffering, write_through) as they were.
    previous: Vec<(Py<PyAny>, Py<PyAny>, Py<PyAny>)>,
    stop: mpsc::Sender<()>,
    flusher: std::thread::JoinHandle<()>,
}

/// `stream.reconfigure(line_buffering=..., write_through=...)`.
fn reconfigure<'py>(
    stream: &Bound<'py, PyAny>,
    line_buffering: impl IntoPyObject<'py>,
    write_through: impl IntoPyObject<'py>,
) -> PyResult<()> {
    let keywords = PyDict::new(stream.py());
    keywords.set_item("line_buffering", line_buffering)?;
    keywords.set_item("write_through", write_through)?;
    stream.call_method("reconfigure", (), Some(&keywords))?;
    Ok(())
}

/// Block-buffers `sys.<name>`; what it was, to put back. An error for a stream that cannot
/// be reconfigured (the program replaced it): it stays as it is.
fn block_buffer(py: Python<'_>, name: &str) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
    let stream = py.import("sys")?.getattr(name)?;
    let line_buffering = stream.getattr("line_buffering")?;
    let write_through = stream.getattr("write_through")?;
    // PYTHONUNBUFFERED makes them write through: buffer them all the same.
    reconfigure(&stream, false, false)?;
    Ok((
        stream.unbind(),
        line_buffering.unbind(),
        write_through.unbind(),
    ))
}

impl BlockBuffering {
    pub fn start(py: Python<'_>) -> BlockBuffering {
        let previous = ["stdout", "stderr"]
            .into_iter()
            .filter_map(|name| block_buffer(py, name).ok())
            .collect();
        let (stop, stopped) = mpsc::channel::<()>();
        let flusher = std::thread::spawn(move || {
            let every = Duration::from_millis(30);
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                Python::attach(flush_std_streams);
            }
        });
        BlockBuffering {
            previous,
            stop,
            flusher,
        }
    }

    pub fn stop(self, py: Python<'_>) {
        // Dropping the sender would stop the flusher as well; sending says why.
        let _ = self.stop.send(());
        let flusher = self.flusher;
        // Only a panic in the flusher makes this fail, and it has already been reported.
        py.detach(|| {
            let _ = flusher.join();
        });
        flush_std_streams(py);
        for (stream, line_buffering, write_through) in self.previous {
            // Best effort, like the buffering: a stream the run replaced keeps its mode.
            let _ = reconfigure(stream.bind(py), line_buffering, write_through);
        }
    }
}
