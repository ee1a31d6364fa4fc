//! `gofer_scheduler._native`: the Rust core, as the Python package `gofer_scheduler` needs it.
//!
//! This module converts arguments and errors and nothing else; the Pythonic surface (keyword
//! arguments, `timedelta`, the enum, file-like logs, the attach socket) is the pure-Python
//! layer in `python/gofer_scheduler/`, and the behaviour is the core's.
//!
//! Three rules hold for every call here:
//! - the GIL is released while the call waits, so other Python threads run;
//! - the wait is cut into short slices with a signal check between them, so Ctrl-C raises
//!   `KeyboardInterrupt` within one slice instead of after the engine's timeout;
//! - an object created before `fork()` is refused in the child (the core's `InvalidState`)
//!   before any lock is taken, and is leaked rather than dropped there: its locks, sockets and
//!   runtime belong to the parent, and tearing them down from the child could hang the child
//!   or break the parent's connections.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gofer_scheduler::blocking::Attachment;
use gofer_scheduler::runtime;
use gofer_scheduler::{
    AttachContainerRequest, BlockingEngine, DockerOptions, Error, ErrorKind, GetLogsRequest,
    GetStateRequest, LogCloser, Networking, RegistryAuth, StartContainerRequest,
    StopContainerRequest,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Longest time between two signal checks. Ctrl-C must land within half a second.
const SLICE: Duration = Duration::from_millis(100);

/// The largest read handed to the core at once: `BufferedReader.read(n)` may ask for the whole
/// `n`, and the buffer is allocated before the read.
const MAX_READ: usize = 1 << 20;

/// Raises `err` as the exception class of its kind, defined in `gofer_scheduler._errors`
/// (Python-side, because several classes also derive from a builtin: `ValueError`, ...).
fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let class = match err.kind() {
        ErrorKind::NoSuchContainer => "NoSuchContainer",
        ErrorKind::NoSuchImage => "NoSuchImage",
        ErrorKind::AmbiguousContainerName => "AmbiguousContainerName",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::Connection => "EngineConnectionError",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::ContainerNotRunning => "ContainerNotRunning",
        ErrorKind::Engine => "EngineError",
        ErrorKind::InvalidState => "InvalidState",
        _ => "SchedulerError",
    };
    let build = || -> PyResult<PyErr> {
        let exception = py
            .import("gofer_scheduler._errors")?
            .getattr(class)?
            .call1((err.to_string(),))?;
        if let Some(status) = err.http_status() {
            exception.setattr("http_status", status)?;
        }
        Ok(PyErr::from_value(exception))
    };
    build().unwrap_or_else(|failure| failure)
}

trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for gofer_scheduler::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

fn seconds(argument: &str, secs: f64) -> gofer_scheduler::Result<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Error::invalid_argument(argument, format!("{secs} is not a number of seconds >= 0"))
    })
}

/// A mutex whose holder never leaves the data half-updated (every critical section here is a
/// clone or a take), so a poisoned lock is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a core future on the private runtime in slices, with the GIL released during each
/// slice and Python's signal handlers run between them. An exception from a handler
/// (`KeyboardInterrupt`) drops the future, which cancels the request.
fn run_interruptible<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut future = std::pin::pin!(future);
    loop {
        // The timer is made inside the async block: it needs the runtime's context.
        let slice = py.detach(|| {
            runtime::block_on(async { tokio::time::timeout(SLICE, future.as_mut()).await })
        });
        match slice.or_raise(py)? {
            Ok(output) => return Ok(output),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Runs a blocking core call on a helper thread and waits for it in slices, checking signals.
/// For the calls whose async form the core does not hand out (connect, and the opening of a
/// log stream or an attach session, whose blocking wrappers have private constructors).
/// On `KeyboardInterrupt` the call finishes on its own and its result is dropped there.
fn run_on_thread<T: Send + 'static>(
    py: Python<'_>,
    call: impl FnOnce() -> gofer_scheduler::Result<T> + Send + 'static,
) -> PyResult<T> {
    let (tx, mut rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("gofer-call".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .map_err(|e| {
            to_py(
                py,
                Error::new(ErrorKind::Internal, format!("cannot start a thread: {e}")),
            )
        })?;
    loop {
        // A Receiver is Send but not Sync: lend it to the closure by &mut, not &.
        let receiver = &mut rx;
        match py.detach(move || receiver.recv_timeout(SLICE)) {
            Ok(result) => return result.or_raise(py),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                let e = Error::new(
                    ErrorKind::Internal,
                    "the call ended without an answer (a panic)",
                );
                return Err(to_py(py, e));
            }
        }
    }
}

/// A Rust object that belongs to the process that created it: handed out only there, and
/// leaked instead of dropped in a forked child (see the module docs).
struct ProcessLocal<T> {
    pid: u32,
    what: &'static str,
    slot: Mutex<Option<T>>,
}

impl<T> ProcessLocal<T> {
    fn new(what: &'static str, value: T) -> Self {
        ProcessLocal {
            pid: runtime::current_pid(),
            what,
            slot: Mutex::new(Some(value)),
        }
    }

    fn is_foreign(&self) -> bool {
        self.pid != runtime::current_pid()
    }

    /// Runs `f` on the value; fails after fork() and after close(), before touching the lock.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut T) -> gofer_scheduler::Result<R>,
    ) -> gofer_scheduler::Result<R> {
        runtime::check_same_process(self.pid)?;
        match lock(&self.slot).as_mut() {
            Some(value) => f(value),
            None => Err(Error::new(
                ErrorKind::InvalidState,
                format!("the {} was closed", self.what),
            )),
        }
    }

    /// Takes the value out, to drop it. Nothing in a forked child: the parent's value stays put.
    fn take(&self) -> Option<T> {
        if self.is_foreign() {
            return None;
        }
        lock(&self.slot).take()
    }

    fn is_closed(&self) -> bool {
        self.is_foreign() || lock(&self.slot).is_none()
    }
}

impl<T> Drop for ProcessLocal<T> {
    fn drop(&mut self) {
        if self.is_foreign() {
            let value = self
                .slot
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            std::mem::forget(value);
        }
    }
}

/// A connection to the Docker engine (`gofer_scheduler.DockerEngine` wraps it).
#[pyclass(module = "gofer_scheduler._native", frozen)]
struct Engine {
    engine: ProcessLocal<Arc<BlockingEngine>>,
}

impl Engine {
    fn engine(&self, py: Python<'_>) -> PyResult<Arc<BlockingEngine>> {
        self.engine.with(|e| Ok(e.clone())).or_raise(py)
    }
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (*, timeout=None, prune=false, prune_interval=None, host=None))]
    fn new(
        py: Python<'_>,
        timeout: Option<f64>,
        prune: bool,
        prune_interval: Option<f64>,
        host: Option<String>,
    ) -> PyResult<Self> {
        let mut options = DockerOptions {
            host,
            prune,
            ..DockerOptions::default()
        };
        if let Some(secs) = timeout {
            options.timeout = seconds("timeout", secs).or_raise(py)?;
        }
        if let Some(secs) = prune_interval {
            options.prune_interval = seconds("prune_interval", secs).or_raise(py)?;
        }
        let engine = run_on_thread(py, move || BlockingEngine::connect(options))?;
        Ok(Engine {
            engine: ProcessLocal::new("engine", Arc::new(engine)),
        })
    }

    #[pyo3(signature = (id, image, env, registry_auth, always_pull, port, entrypoint, command))]
    #[allow(clippy::too_many_arguments)] // the seed's request, field by field
    fn start_container(
        &self,
        py: Python<'_>,
        id: String,
        image: String,
        env: Option<BTreeMap<String, String>>,
        registry_auth: Option<(String, String)>,
        always_pull: bool,
        port: Option<i64>,
        entrypoint: Option<Vec<String>>,
        command: Option<Vec<String>>,
    ) -> PyResult<String> {
        let networking = match port {
            None => None,
            Some(port) => {
                let port = u16::try_from(port)
                    .map_err(|_| {
                        Error::invalid_argument("port", format!("{port} is not in 1..=65535"))
                    })
                    .or_raise(py)?;
                Some(Networking { port })
            }
        };
        let request = StartContainerRequest {
            id,
            image_name: image,
            env_vars: env.unwrap_or_default(),
            registry_auth: registry_auth.map(|(user, pass)| RegistryAuth { user, pass }),
            always_pull,
            networking,
            entrypoint,
            command,
        };
        let engine = self.engine(py)?;
        let response =
            run_interruptible(py, engine.engine().start_container(request))?.or_raise(py)?;
        Ok(response.url)
    }

    fn stop_container(&self, py: Python<'_>, id: String, timeout: f64) -> PyResult<()> {
        let request = StopContainerRequest {
            id,
            timeout: seconds("timeout", timeout).or_raise(py)?,
        };
        let engine = self.engine(py)?;
        run_interruptible(py, engine.engine().stop_container(request))?.or_raise(py)
    }

    /// `(state, exit_code)`, the state as the seed's string ("EXITED", ...).
    fn get_state(&self, py: Python<'_>, id: String) -> PyResult<(&'static str, i64)> {
        let engine = self.engine(py)?;
        // On this thread, with the GIL released: no runtime worker, no helper thread (a GetState
        // is a few hundred microseconds). While the engine has not answered, signal handlers run
        // every 100 ms; one that raises (KeyboardInterrupt) abandons the call.
        let mut raised: Option<PyErr> = None;
        let response = py.detach(|| {
            engine.get_state_checked(GetStateRequest { id }, &mut || {
                Python::attach(|py| py.check_signals()).map_err(|e| {
                    raised = Some(e);
                    Error::new(ErrorKind::InvalidState, "interrupted")
                })
            })
        });
        if let Some(e) = raised {
            return Err(e);
        }
        let response = response.or_raise(py)?;
        Ok((response.state.as_str(), response.exit_code))
    }

    fn get_logs(&self, py: Python<'_>, id: String) -> PyResult<LogReader> {
        let engine = self.engine(py)?;
        let reader = run_on_thread(py, move || engine.get_logs(GetLogsRequest { id }))?;
        Ok(LogReader {
            closer: reader.closer(),
            reader: ProcessLocal::new("log stream", reader),
            spare: Mutex::new(Vec::new()),
        })
    }

    fn attach_container(
        &self,
        py: Python<'_>,
        id: String,
        command: Vec<String>,
    ) -> PyResult<Session> {
        let engine = self.engine(py)?;
        let attachment = run_on_thread(py, move || {
            engine.attach_container(AttachContainerRequest { id, command })
        })?;
        Ok(Session {
            fd: attachment.raw_fd(),
            session: ProcessLocal::new("attach session", Arc::new(attachment)),
        })
    }

    /// Removes the exited containers this library created; returns how many.
    fn prune(&self, py: Python<'_>) -> PyResult<usize> {
        let engine = self.engine(py)?;
        run_on_thread(py, move || engine.prune())
    }

    /// Drops this handle's share of the connection (streams and sessions keep theirs).
    fn close(&self) {
        drop(self.engine.take());
    }

    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }
}

/// The blocking reader of one container's logs (`gofer_scheduler.LogStream` buffers it).
#[pyclass(module = "gofer_scheduler._native", frozen)]
struct LogReader {
    /// Outside the reader's lock, so that close() can wake a read blocked in another thread.
    closer: LogCloser,
    reader: ProcessLocal<gofer_scheduler::LogReader>,
    /// The read buffer, kept between reads: a fresh zeroed 64 KiB for every read cost more
    /// than the read itself when lines are short. Taken out for a read, put back after; the
    /// lock is never held while reading or waiting.
    spare: Mutex<Vec<u8>>,
}

#[pymethods]
impl LogReader {
    /// Up to `size` bytes, at least one; `b""` at the end of the logs.
    fn read<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyBytes>> {
        let want = size.min(MAX_READ);
        let mut buf = std::mem::take(&mut *lock(&self.spare));
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let result = self.read_into(py, &mut buf[..want]);
        if buf.len() <= 64 * 1024 {
            *lock(&self.spare) = buf;
        }
        result
    }

    /// Releases the connection; a read blocked in another thread fails with InvalidState.
    fn close(&self, py: Python<'_>) {
        if self.reader.is_foreign() {
            return;
        }
        self.closer.close();
        // Waits (GIL released) for a blocked reader to leave its slice and the lock.
        let reader = py.detach(|| self.reader.take());
        drop(reader);
    }

    #[getter]
    fn closed(&self) -> bool {
        self.reader.is_closed()
    }
}

impl LogReader {
    /// Reads into `buf` (not empty), in slices that let signals through.
    fn read_into<'py>(&self, py: Python<'py>, buf: &mut [u8]) -> PyResult<Bound<'py, PyBytes>> {
        loop {
            // The lock is held for one slice at most, and never while the GIL is held.
            let slice = py.detach(|| {
                self.reader
                    .with(|reader| reader.read_timeout(buf, SLICE))
            });
            match slice.or_raise(py)? {
                Some(n) => return Ok(PyBytes::new(py, &buf[..n])),
                None => py.check_signals()?,
            }
        }
    }
}

/// One attach session: the exec's TTY bridged to a socket (`gofer_scheduler.Attachment`).
#[pyclass(module = "gofer_scheduler._native", frozen)]
struct Session {
    fd: i32,
    session: ProcessLocal<Arc<Attachment>>,
}

impl Session {
    fn session(&self, py: Python<'_>) -> PyResult<Arc<Attachment>> {
        self.session.with(|s| Ok(s.clone())).or_raise(py)
    }
}

#[pymethods]
impl Session {
    /// The session's socket (a Unix stream socket), owned by the session: dup() it to keep it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        self.session(py)?;
        Ok(self.fd)
    }

    fn resize(&self, py: Python<'_>, width: u16, height: u16) -> PyResult<()> {
        let session = self.session(py)?;
        run_on_thread(py, move || session.resize(width, height))
    }

    /// The process's exit code; None while it runs.
    fn exit_code(&self, py: Python<'_>) -> PyResult<Option<i64>> {
        let session = self.session(py)?;
        run_on_thread(py, move || session.exit_code())
    }

    /// Ends the session (the process's stdin closes, the socket reads end-of-stream) and frees it.
    fn close(&self) {
        if let Some(session) = self.session.take() {
            session.close();
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.session.is_closed()
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_class::<LogReader>()?;
    m.add_class::<Session>()?;
    Ok(())
}
