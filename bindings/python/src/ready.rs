//! The native half of the asyncio face: log streams and waits that never block, each with a
//! descriptor for the event loop's `add_reader` (the core's readiness face, `gofer_scheduler::ready`).
//! Every call returns at once, so none releases the GIL.

use std::sync::Arc;

use gofer_scheduler::{ReadyLogs as CoreReadyLogs, ReadyWait as CoreReadyWait};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{state_tuple, OrRaise, ProcessLocal, Spare, StateTuple};

/// A container's log read by the library's runtime: `try_read` takes what it has read.
#[pyclass(module = "gofer_scheduler._native", frozen)]
pub(crate) struct ReadyLogs {
    fd: i32,
    logs: ProcessLocal<Arc<CoreReadyLogs>>,
    spare: Spare,
}

impl ReadyLogs {
    pub(crate) fn new(logs: CoreReadyLogs) -> Self {
        ReadyLogs { fd: logs.raw_fd(), logs: ProcessLocal::new("log stream", Arc::new(logs)), spare: Spare::default() }
    }
}

#[pymethods]
impl ReadyLogs {
    /// Readable when `try_open`/`try_read` are worth calling again. Owned by the stream.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        self.logs.get(py)?;
        Ok(self.fd)
    }

    /// True once the log is open, False before; raises the opening's error.
    fn try_open(&self, py: Python<'_>) -> PyResult<bool> {
        self.logs.get(py)?.try_open().or_raise(py)
    }

    /// `(stream, data)`: up to `size` bytes of one stream ("stdout" or "stderr"), `b""` at the
    /// end of the logs; None when nothing is there yet.
    fn try_read<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Option<(&'static str, Bound<'py, PyBytes>)>> {
        let logs = self.logs.get(py)?;
        self.spare.with(size, |buf| {
            let read = logs.try_read(buf).or_raise(py)?;
            Ok(read.map(|(n, source)| (source.as_str(), PyBytes::new(py, &buf[..n]))))
        })
    }

    /// Stops the stream and releases its connection.
    fn close(&self) {
        if let Some(logs) = self.logs.take() {
            logs.close();
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.logs.is_closed()
    }
}

/// A wait for a container's exit run by the library's runtime: `try_result` asks for its answer.
#[pyclass(module = "gofer_scheduler._native", frozen)]
pub(crate) struct ReadyWait {
    fd: i32,
    wait: ProcessLocal<Arc<CoreReadyWait>>,
}

impl ReadyWait {
    pub(crate) fn new(wait: CoreReadyWait) -> Self {
        ReadyWait { fd: wait.raw_fd(), wait: ProcessLocal::new("wait", Arc::new(wait)) }
    }
}

#[pymethods]
impl ReadyWait {
    /// Readable once `try_result` has its answer. Owned by the wait.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        self.wait.get(py)?;
        Ok(self.fd)
    }

    /// The final state as `get_state` gives it, None while the container runs; raises the
    /// wait's error.
    fn try_result(&self, py: Python<'_>) -> PyResult<Option<StateTuple>> {
        let state = self.wait.get(py)?.try_result().or_raise(py)?;
        Ok(state.as_ref().map(state_tuple))
    }

    /// Ends the wait.
    fn close(&self) {
        if let Some(wait) = self.wait.take() {
            wait.close();
        }
    }
}
