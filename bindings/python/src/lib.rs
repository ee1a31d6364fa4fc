//! `gofer_scheduler._native`: the Rust core, as the Python package `gofer_scheduler` needs it.
//!
//! This module converts arguments and errors and nothing else; the Pythonic surface (keyword
//! arguments, `timedelta`, the enum, file-like logs, the attach socket) is the pure-Python
//! layer in `python/gofer_scheduler/`, and the behaviour is the core's (its blocking face).
//!
//! Three rules hold for every call here:
//! - the GIL is released while the call waits, so other Python threads run;
//! - the call runs on the caller's thread with the core's interrupt hook: Python's signal
//!   handlers run every 100 ms while it waits, and one that raises (Ctrl-C's
//!   `KeyboardInterrupt`) abandons the call with that exception;
//! - an object created before `fork()` is refused in the child (the core's `InvalidState`)
//!   before any lock is taken, and is leaked rather than dropped there: its locks, sockets and
//!   runtime belong to the parent, and tearing them down from the child could hang the child
//!   or break the parent's connections.

mod ready;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gofer_scheduler::runtime;
use gofer_scheduler::{
    AttachContainerRequest, Attachment, BlockingEngine, DockerOptions, EngineConfig, EngineType, Error, ErrorKind,
    GetLogsRequest, GetStateRequest, GetStateResponse, LogCloser, LogReader as CoreLogReader, Mount, MountKind,
    Networking, PullProgress, RegistryAuth, Resources, StartContainerRequest, StopContainerRequest, TlsFiles, WaitContainerRequest,
};
use gofer_scheduler::SwarmOptions;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The largest read handed to the core at once: `BufferedReader.read(n)` may ask for the whole
/// `n`, and the buffer is allocated before the read.
const MAX_READ: usize = 1 << 20;

/// A log reader's buffer, kept between reads: a fresh zeroed buffer for every read cost more
/// than the read itself (64 KiB of short lines; 1 MiB for a caller asking for big pieces, who
/// got back whatever had arrived). Grown to the largest size asked for, at most [`MAX_READ`].
/// Taken out for a read and put back after: the lock is never held while reading or waiting.
#[derive(Default)]
pub(crate) struct Spare(Mutex<Vec<u8>>);

impl Spare {
    /// Runs `read` on a buffer of `size` bytes (clamped to 1..=[`MAX_READ`]).
    pub(crate) fn with<R>(&self, size: usize, read: impl FnOnce(&mut [u8]) -> R) -> R {
        let want = size.clamp(1, MAX_READ);
        let mut buf = std::mem::take(&mut *lock(&self.0));
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let result = read(&mut buf[..want]);
        *lock(&self.0) = buf;
        result
    }
}

/// The exception class of each kind, defined in `gofer_scheduler._errors` (Python-side, because
/// several classes also derive from a builtin: `ValueError`, ...). One row per kind: a new kind
/// does not compile without its class, and a test checks that every class exists.
fn class_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NoSuchContainer => "NoSuchContainer",
        ErrorKind::NoSuchImage => "NoSuchImage",
        ErrorKind::AmbiguousContainerName => "AmbiguousContainerName",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::Connection => "EngineConnectionError",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::ContainerNotRunning => "ContainerNotRunning",
        ErrorKind::Engine => "EngineError",
        ErrorKind::InvalidState => "InvalidState",
        ErrorKind::Internal => "InternalError",
    }
}

/// Raises `err` as the exception class of its kind.
fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let exception = py.import("gofer_scheduler._errors")?.getattr(class_of(err.kind()))?.call1((err.to_string(),))?;
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
    Duration::try_from_secs_f64(secs)
        .map_err(|_| Error::invalid_argument(argument, format!("{secs} is not a number of seconds >= 0")))
}

/// A mutex whose holder never leaves the data half-updated (every critical section here is a
/// clone or a take), so a poisoned lock is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The core's interrupt hook for a call: it runs Python's signal handlers (taking the GIL
/// for that moment), and the exception one raises abandons the call.
type Hook<'a> = &'a (dyn Fn() -> gofer_scheduler::Result<()> + Sync);

/// Runs a blocking core call with the GIL released and the interrupt hook in place.
fn interruptible<T: Send>(py: Python<'_>, call: impl FnOnce(Hook<'_>) -> gofer_scheduler::Result<T> + Send) -> PyResult<T> {
    interruptible_with(py, |hook, _| call(hook))
}

/// [`interruptible`], for a call that also runs Python code of its own (a callback): an
/// exception that must abandon the call (Ctrl-C's `KeyboardInterrupt` may be raised there, as
/// anywhere in Python code) goes into the slot it is given, and the hook then ends the call.
fn interruptible_with<T: Send>(
    py: Python<'_>,
    call: impl FnOnce(Hook<'_>, &Mutex<Option<PyErr>>) -> gofer_scheduler::Result<T> + Send,
) -> PyResult<T> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let interrupted = || Error::new(ErrorKind::InvalidState, "interrupted");
    let hook = || {
        if lock(&raised).is_some() {
            return Err(interrupted());
        }
        Python::attach(|py| py.check_signals()).map_err(|e| {
            *lock(&raised) = Some(e);
            interrupted()
        })
    };
    let result = py.detach(|| call(&hook, &raised));
    if let Some(exception) = lock(&raised).take() {
        return Err(exception);
    }
    result.or_raise(py)
}

/// A Rust object that belongs to the process that created it: handed out only there, and
/// leaked instead of dropped in a forked child (see the module docs).
struct ProcessLocal<T> {
    pid: u32,
    what: &'static str,
    slot: Mutex<Option<T>>,
}

impl<T: Clone> ProcessLocal<T> {
    fn new(what: &'static str, value: T) -> Self {
        ProcessLocal { pid: runtime::current_pid(), what, slot: Mutex::new(Some(value)) }
    }

    fn is_foreign(&self) -> bool {
        self.pid != runtime::current_pid()
    }

    /// The value; fails after fork() and after close(), before touching the lock.
    fn get(&self, py: Python<'_>) -> PyResult<T> {
        runtime::check_same_process(self.pid).or_raise(py)?;
        lock(&self.slot)
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::InvalidState, format!("the {} was closed", self.what)))
            .or_raise(py)
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
        if self.pid != runtime::current_pid() {
            let value = self.slot.get_mut().unwrap_or_else(|p| p.into_inner()).take();
            std::mem::forget(value);
        }
    }
}

/// A connection to an engine (`gofer_scheduler.DockerEngine` wraps it).
#[pyclass(module = "gofer_scheduler._native", frozen)]
struct Engine {
    engine: ProcessLocal<Arc<BlockingEngine>>,
}

#[pymethods]
impl Engine {
    #[new]
    /// `tls`: `(ca, cert, key)` PEM file paths (cert and key None for none); None: as the
    /// docker CLI (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). `nodes` (swarm only): node → engine
    /// address.
    #[pyo3(signature = (*, engine_type="docker", timeout=None, prune=false, prune_interval=None, host=None, tls=None, nodes=None))]
    #[allow(clippy::too_many_arguments)] // the engine's options, one by one
    fn new(
        py: Python<'_>,
        engine_type: &str,
        timeout: Option<f64>,
        prune: bool,
        prune_interval: Option<f64>,
        host: Option<String>,
        tls: Option<(String, Option<String>, Option<String>)>,
        nodes: Option<BTreeMap<String, String>>,
    ) -> PyResult<Self> {
        let tls = tls.map(|(ca, cert, key)| TlsFiles { ca: ca.into(), cert: cert.map(Into::into), key: key.map(Into::into) });
        let mut options = DockerOptions { host, tls, prune, ..DockerOptions::default() };
        if let Some(secs) = timeout {
            options.timeout = seconds("timeout", secs).or_raise(py)?;
        }
        if let Some(secs) = prune_interval {
            options.prune_interval = seconds("prune_interval", secs).or_raise(py)?;
        }
        let config = match EngineType::parse("engine_type", engine_type).or_raise(py)? {
            EngineType::Docker if nodes.is_some() => {
                return Err(Error::invalid_argument("nodes", "are for the swarm engine type only")).or_raise(py)
            }
            EngineType::Docker => EngineConfig::Docker(options),
            EngineType::Swarm => EngineConfig::Swarm(SwarmOptions { manager: options, nodes: nodes.unwrap_or_default() }),
        };
        let engine = interruptible(py, |hook| BlockingEngine::connect_interruptible(config, Some(hook)))?;
        Ok(Engine { engine: ProcessLocal::new("engine", Arc::new(engine)) })
    }

    #[getter]
    fn engine_type(&self, py: Python<'_>) -> PyResult<&'static str> {
        Ok(self.engine.get(py)?.engine_type().as_str())
    }

    /// `(url, container_id, image_id)`. `resources` is `(memory, cpus, pids_limit, shm_size)`,
    /// `mounts` a list of `(kind, source, target, read_only, tmpfs_size)`, kind one of "bind",
    /// "volume", "tmpfs".
    ///
    /// `progress`, if given, is called with `(layer, status, current, total)` for every message
    /// of the image's pull (the byte counts None when the engine does not say). An `Exception`
    /// it raises is reported as unraisable (`sys.unraisablehook`) and it is not called again;
    /// any other (`KeyboardInterrupt`) abandons the start and is raised.
    #[pyo3(signature = (id, image, env, registry_auth, always_pull, port, entrypoint, command, resources, mounts, working_dir, user, labels, privileged, progress=None))]
    #[allow(clippy::too_many_arguments)] // the request, field by field
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
        resources: (Option<i64>, Option<f64>, Option<i64>, Option<i64>),
        mounts: Vec<MountTuple>,
        working_dir: Option<String>,
        user: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        privileged: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(String, String, String)> {
        let networking = match port {
            None => None,
            Some(port) => {
                let port = u16::try_from(port)
                    .map_err(|_| Error::invalid_argument("port", format!("{port} is not in 1..=65535")))
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
            resources: Resources { memory_bytes: resources.0, cpus: resources.1, pids_limit: resources.2, shm_size_bytes: resources.3 },
            mounts: mounts.into_iter().enumerate().map(mount).collect::<gofer_scheduler::Result<_>>().or_raise(py)?,
            working_dir,
            user,
            labels: labels.unwrap_or_default(),
            privileged,
        };
        let engine = self.engine.get(py)?;
        let response = interruptible_with(py, |hook, raised| {
            let calls = engine.interruptible(hook);
            let Some(callback) = progress else { return calls.start_container(request) };
            let mut failed = false;
            let mut report = |update: &PullProgress| {
                if failed {
                    return;
                }
                Python::attach(|py| {
                    let update = (update.layer.as_str(), update.status.as_str(), update.current, update.total);
                    if let Err(e) = callback.call1(py, update) {
                        failed = true;
                        if e.is_instance_of::<pyo3::exceptions::PyException>(py) {
                            e.write_unraisable(py, Some(callback.bind(py)));
                        } else {
                            *lock(raised) = Some(e);
                        }
                    }
                })
            };
            calls.start_container_with_progress(request, &mut report)
        })?;
        Ok((response.url, response.container_id, response.image_id))
    }

    fn stop_container(&self, py: Python<'_>, id: String, timeout: f64) -> PyResult<()> {
        let request = StopContainerRequest { id, timeout: seconds("timeout", timeout).or_raise(py)? };
        let engine = self.engine.get(py)?;
        interruptible(py, |hook| engine.interruptible(hook).stop_container(request))
    }

    /// `(state, exit_code, oom_killed, started_at_ns, finished_at_ns)`, the state as the seed's
    /// string ("EXITED", ...), the times in nanoseconds since the epoch or None.
    fn get_state(&self, py: Python<'_>, id: String) -> PyResult<StateTuple> {
        let engine = self.engine.get(py)?;
        let response = interruptible(py, |hook| engine.interruptible(hook).get_state(GetStateRequest { id }))?;
        Ok(state_tuple(&response))
    }

    /// Blocks until the container has exited; its final state as `get_state` gives it.
    fn wait_container(&self, py: Python<'_>, id: String) -> PyResult<StateTuple> {
        let engine = self.engine.get(py)?;
        let response = interruptible(py, |hook| engine.interruptible(hook).wait_container(WaitContainerRequest { id }))?;
        Ok(state_tuple(&response))
    }

    /// `[(name, id, state, created_at_ns, labels)]`, oldest first, `state` as `get_state` gives it.
    fn list_containers(&self, py: Python<'_>) -> PyResult<Vec<ListedTuple>> {
        let engine = self.engine.get(py)?;
        let listed = interruptible(py, |hook| engine.interruptible(hook).list_containers())?;
        Ok(listed.into_iter().map(|c| (c.name, c.id, state_tuple(&c.state), unix_ns(c.created_at), c.labels)).collect())
    }

    /// The logs read by the library's runtime, for asyncio: returns at once (the opening's
    /// error comes from `try_open` or the first read).
    fn get_logs_ready(&self, py: Python<'_>, id: String) -> PyResult<ready::ReadyLogs> {
        let logs = self.engine.get(py)?.get_logs_ready(GetLogsRequest { id }).or_raise(py)?;
        Ok(ready::ReadyLogs::new(logs))
    }

    /// A wait run by the library's runtime, for asyncio: returns at once.
    fn wait_ready(&self, py: Python<'_>, id: String) -> PyResult<ready::ReadyWait> {
        let wait = self.engine.get(py)?.wait_ready(WaitContainerRequest { id }).or_raise(py)?;
        Ok(ready::ReadyWait::new(wait))
    }

    fn get_logs(&self, py: Python<'_>, id: String) -> PyResult<LogReader> {
        let engine = self.engine.get(py)?;
        let reader = interruptible(py, |hook| engine.interruptible(hook).get_logs(GetLogsRequest { id }))?;
        Ok(LogReader {
            closer: reader.closer(),
            reader: ProcessLocal::new("log stream", Arc::new(reader)),
            spare: Spare::default(),
        })
    }

    fn attach_container(&self, py: Python<'_>, id: String, command: Vec<String>) -> PyResult<Session> {
        let engine = self.engine.get(py)?;
        let request = AttachContainerRequest { id, command };
        let attachment = interruptible(py, |hook| engine.interruptible(hook).attach_container(request))?;
        Ok(Session { fd: attachment.raw_fd(), session: ProcessLocal::new("attach session", Arc::new(attachment)) })
    }

    /// Removes the exited containers this library created; returns how many.
    fn prune(&self, py: Python<'_>) -> PyResult<usize> {
        let engine = self.engine.get(py)?;
        interruptible(py, |hook| engine.interruptible(hook).prune())
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
    /// Outside the reader's slot, so that close() can wake a read blocked in another thread.
    closer: LogCloser,
    reader: ProcessLocal<Arc<CoreLogReader>>,
    spare: Spare,
}

#[pymethods]
impl LogReader {
    /// Up to `size` bytes, at least one; `b""` at the end of the logs.
    fn read<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyBytes>> {
        let reader = self.reader.get(py)?;
        self.spare.with(size, |buf| {
            let n = interruptible(py, |hook| reader.read_interruptible(buf, hook))?;
            Ok(PyBytes::new(py, &buf[..n]))
        })
    }

    /// `(stream, data)`: up to `size` bytes of one stream ("stdout" or "stderr"); `b""` at the
    /// end of the logs.
    fn read_frame<'py>(&self, py: Python<'py>, size: usize) -> PyResult<(&'static str, Bound<'py, PyBytes>)> {
        let reader = self.reader.get(py)?;
        self.spare.with(size, |buf| {
            let (n, source) = interruptible(py, |hook| reader.read_frame_interruptible(buf, Some(hook)))?;
            Ok((source.as_str(), PyBytes::new(py, &buf[..n])))
        })
    }

    /// Releases the connection; a read blocked in another thread fails with InvalidState.
    fn close(&self) {
        if self.reader.is_foreign() {
            return;
        }
        self.closer.close();
        // A read in another thread holds its own reference until it returns.
        drop(self.reader.take());
    }

    #[getter]
    fn closed(&self) -> bool {
        self.reader.is_closed()
    }
}

/// One attach session: the exec's TTY bridged to a socket (`gofer_scheduler.Attachment`).
#[pyclass(module = "gofer_scheduler._native", frozen)]
struct Session {
    fd: i32,
    session: ProcessLocal<Arc<Attachment>>,
}

#[pymethods]
impl Session {
    /// The session's socket (a Unix stream socket), owned by the session: dup() it to keep it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        self.session.get(py)?;
        Ok(self.fd)
    }

    fn resize(&self, py: Python<'_>, width: u16, height: u16) -> PyResult<()> {
        let session = self.session.get(py)?;
        interruptible(py, |hook| session.resize_interruptible(width, height, Some(hook)))
    }

    /// The process's exit code; None while it runs.
    fn exit_code(&self, py: Python<'_>) -> PyResult<Option<i64>> {
        let session = self.session.get(py)?;
        interruptible(py, |hook| session.exit_code_interruptible(Some(hook)))
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

/// `(kind, source, target, read_only, tmpfs_size)` of a mount, kind "bind", "volume" or "tmpfs".
type MountTuple = (String, Option<String>, String, bool, Option<i64>);
type StateTuple = (&'static str, i64, bool, Option<i64>, Option<i64>);
type ListedTuple = (String, String, StateTuple, Option<i64>, BTreeMap<String, String>);

fn unix_ns(time: Option<SystemTime>) -> Option<i64> {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).and_then(|d| i64::try_from(d.as_nanos()).ok())
}

fn state_tuple(s: &GetStateResponse) -> StateTuple {
    (s.state.as_str(), s.exit_code, s.oom_killed, unix_ns(s.started_at), unix_ns(s.finished_at))
}

/// A mount of `start_container`'s `mounts`, as the core has it.
fn mount((i, (kind, source, target, read_only, size)): (usize, MountTuple)) -> gofer_scheduler::Result<Mount> {
    let field = |name: &str| format!("mounts[{i}].{name}");
    let source = || source.clone().ok_or_else(|| Error::invalid_argument(&field("source"), "is missing"));
    let kind = match kind.as_str() {
        "bind" => MountKind::Bind { source: source()? },
        "volume" => MountKind::Volume { name: source()? },
        "tmpfs" => MountKind::Tmpfs { size_bytes: size },
        other => return Err(Error::invalid_argument(&field("kind"), format!("{other:?} is not bind, volume or tmpfs"))),
    };
    Ok(Mount { kind, target, read_only })
}

/// `(kind, exception class, description)` for every kind of the core's errors: the tests check
/// that each class exists and that messages start with the description.
#[pyfunction]
fn error_kinds() -> Vec<(&'static str, &'static str, &'static str)> {
    ErrorKind::iter().map(|k| (k.name(), class_of(k), k.description())).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_class::<LogReader>()?;
    m.add_class::<Session>()?;
    m.add_class::<ready::ReadyLogs>()?;
    m.add_class::<ready::ReadyWait>()?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    Ok(())
}
