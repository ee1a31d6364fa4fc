//! The engine handle and the five operations.

use std::ffi::c_char;
use std::time::Duration;

use std::ffi::CString;
use std::sync::OnceLock;

use strum::IntoEnumIterator;

use super::error::static_c_str;
use super::{guard, handle, opt_str_arg, opt_str_list, out_param, str_arg, write_out};
use super::{GoferError, GoferStatus};
use crate::blocking::{BlockingEngine, EngineConfig};
use crate::docker::DockerOptions;
use crate::swarm::SwarmOptions;
use crate::http::TlsFiles;
use crate::model::*;

/// A connection to an engine. Opaque, thread-safe: share one among all threads.
/// Created by `gofer_engine_new`, freed by `gofer_engine_free`.
pub struct GoferEngine {
    pub(crate) engine: BlockingEngine,
}

/// Options for `gofer_engine_new`. Zero-initialise it (`GoferEngineOptions o = {0};`) for the
/// defaults, or pass NULL.
#[repr(C)]
pub struct GoferEngineOptions {
    /// Engine address ("unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"); NULL means the
    /// `DOCKER_HOST` environment variable, else the default socket. Borrowed for the call.
    pub host: *const c_char,
    /// Request timeout in milliseconds; 0 means 60 000.
    pub timeout_ms: u64,
    /// Periodically remove exited containers created by this library.
    pub prune: bool,
    /// Prune period in milliseconds; 0 means 15 minutes.
    pub prune_interval_ms: u64,
    /// The engine type: "docker" (the default, also when NULL) or "swarm" (`host` is then a
    /// swarm manager's address). Borrowed for the call.
    pub engine_type: *const c_char,
    /// TLS to a tcp:// or https:// engine: the CA's certificate (PEM file path). NULL: as the
    /// docker CLI, TLS when DOCKER_TLS_VERIFY is set, with the files of DOCKER_CERT_PATH (else
    /// ~/.docker). The engine's certificate is always verified, its name included.
    pub tls_ca: *const c_char,
    /// The client's certificate and key (PEM file paths), both or neither; with `tls_ca` only.
    pub tls_cert: *const c_char,
    pub tls_key: *const c_char,
    /// Swarm only: the nodes' own engines, for attach and stop (the swarm proxies neither).
    /// `node_count` node names (a node's ID, hostname or address, as `docker node inspect`
    /// shows them) and, at the same index, their engine addresses ("tcp://10.0.0.2:2376",
    /// "unix:///..."; reached with `tls_*` too). Both arrays and their strings are borrowed for
    /// the call; NULL when `node_count` is 0. Any other engine type refuses them.
    pub node_names: *const *const c_char,
    pub node_hosts: *const *const c_char,
    pub node_count: usize,
}

/// The defaults, as C's `GoferEngineOptions o = {0};`.
impl Default for GoferEngineOptions {
    fn default() -> Self {
        // SAFETY: every field is a pointer, a number or a bool, for which all-zero bytes are
        // NULL, 0 and false.
        unsafe { std::mem::zeroed() }
    }
}

/// The state of a container (the seed's `ContainerState`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
pub enum GoferContainerState {
    GOFER_STATE_UNKNOWN = 0,
    GOFER_STATE_RUNNING = 1,
    GOFER_STATE_PAUSED = 2,
    GOFER_STATE_RESTARTING = 3,
    GOFER_STATE_EXITED = 4,
    GOFER_STATE_CANCELLED = 5,
}

/// The one table between the seed's states and their C values, both ways.
impl From<ContainerState> for GoferContainerState {
    fn from(s: ContainerState) -> Self {
        match s {
            ContainerState::Unknown => GoferContainerState::GOFER_STATE_UNKNOWN,
            ContainerState::Running => GoferContainerState::GOFER_STATE_RUNNING,
            ContainerState::Paused => GoferContainerState::GOFER_STATE_PAUSED,
            ContainerState::Restarting => GoferContainerState::GOFER_STATE_RESTARTING,
            ContainerState::Exited => GoferContainerState::GOFER_STATE_EXITED,
            ContainerState::Cancelled => GoferContainerState::GOFER_STATE_CANCELLED,
        }
    }
}

/// The seed's string for a state value ("RUNNING", "EXITED", ...); "UNKNOWN" for a value that is
/// no state. Static: never free it.
#[no_mangle]
pub extern "C" fn gofer_container_state_name(state: i32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let index = ContainerState::iter().position(|s| GoferContainerState::from(s) as i32 == state);
    static_c_str(&NAMES, index.unwrap_or(0), || ContainerState::iter().map(|s| s.as_str().to_owned()).collect())
}

fn millis(ms: u64, default: Duration) -> Duration {
    if ms == 0 {
        default
    } else {
        Duration::from_millis(ms)
    }
}

/// Connects to the engine and checks that it answers (GOFER_CONNECTION, with what to do, when it
/// does not). `options` may be NULL for the defaults. On success `*engine_out` receives a new
/// engine, owned by the caller, freed with `gofer_engine_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_new(
    options: *const GoferEngineOptions,
    engine_out: *mut *mut GoferEngine,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine_out = out_param(engine_out, "engine_out")?;
        let engine = BlockingEngine::connect(engine_config(options)?)?;
        write_out(engine_out, Box::into_raw(Box::new(GoferEngine { engine })));
        Ok(())
    })
}

fn engine_config(options: *const GoferEngineOptions) -> crate::Result<EngineConfig> {
    let defaults = DockerOptions::default();
    // SAFETY: NULL or a pointer to a readable GoferEngineOptions (caller's duty).
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok(EngineConfig::Docker(defaults));
    };
    let path = |p: *const c_char, name: &str| opt_str_arg(p, name).map(|s| s.map(std::path::PathBuf::from));
    let (cert, key) = (path(o.tls_cert, "options.tls_cert")?, path(o.tls_key, "options.tls_key")?);
    let tls = match path(o.tls_ca, "options.tls_ca")? {
        Some(ca) => Some(TlsFiles { ca, cert, key }),
        None if cert.is_some() || key.is_some() => {
            return Err(crate::Error::invalid_argument("options.tls_ca", "is NULL while a client certificate or key is given"))
        }
        None => None,
    };
    let docker = DockerOptions {
        tls,
        host: opt_str_arg(o.host, "options.host")?.map(str::to_owned),
        timeout: millis(o.timeout_ms, defaults.timeout),
        prune: o.prune,
        prune_interval: millis(o.prune_interval_ms, defaults.prune_interval),
    };
    let engine_type = match opt_str_arg(o.engine_type, "options.engine_type")? {
        None => EngineType::Docker,
        Some(name) => EngineType::parse("options.engine_type", name)?,
    };
    let names = opt_str_list(o.node_names, o.node_count, "options.node_names")?.unwrap_or_default();
    let hosts = opt_str_list(o.node_hosts, o.node_count, "options.node_hosts")?.unwrap_or_default();
    Ok(match engine_type {
        EngineType::Docker if o.node_count > 0 => {
            return Err(crate::Error::invalid_argument("options.node_count", "nodes are for the swarm engine type only"))
        }
        EngineType::Docker => EngineConfig::Docker(docker),
        EngineType::Swarm => EngineConfig::Swarm(SwarmOptions { manager: docker, nodes: names.into_iter().zip(hosts).collect() }),
    })
}

/// Frees an engine. Accepts NULL. Log streams and attach sessions opened from it stay usable
/// (they hold their own reference to the connection); no call on this engine may be running or
/// follow.
#[no_mangle]
pub extern "C" fn gofer_engine_free(engine: *mut GoferEngine) {
    super::free_handle(engine);
}

/// Stops a container: its stop signal, then SIGKILL once `timeout_ms` have passed (0 kills at
/// once; the grace period is honoured to the millisecond). GetState reports CANCELLED from the
/// moment the stop is asked, also to other threads polling it while this call runs. Stopping a
/// container that has already exited succeeds and leaves it EXITED.
#[no_mangle]
pub extern "C" fn gofer_engine_stop_container(
    engine: *const GoferEngine,
    id: *const c_char,
    timeout_ms: u64,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        engine.engine.stop_container(StopContainerRequest { id, timeout: Duration::from_millis(timeout_ms) })
    })
}

/// The state and exit code of a container. On success writes `*state_out` and
/// `*exit_code_out` (the exit code whole, 0 unless EXITED or CANCELLED).
#[no_mangle]
pub extern "C" fn gofer_engine_get_state(
    engine: *const GoferEngine,
    id: *const c_char,
    state_out: *mut GoferContainerState,
    exit_code_out: *mut i64,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let state_out = out_param(state_out, "state_out")?;
        let exit_code_out = out_param(exit_code_out, "exit_code_out")?;
        let response = engine.engine.get_state(GetStateRequest { id })?;
        write_out(state_out, response.state.into());
        write_out(exit_code_out, response.exit_code);
        Ok(())
    })
}

/// Removes now the exited containers that this library created (what the periodic prune does).
/// On success writes how many were removed to `*removed_out` (may be NULL).
#[no_mangle]
pub extern "C" fn gofer_engine_prune(
    engine: *const GoferEngine,
    removed_out: *mut usize,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let removed = engine.engine.prune()?;
        if !removed_out.is_null() {
            write_out(removed_out, removed);
        }
        Ok(())
    })
}
