//! StartContainer through the C ABI: the request, its mounts, and what a start reports.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CString};

use strum::IntoEnumIterator;

use super::strings::MAX_LIST_LEN;
use super::{guard, handle, opt_str_arg, opt_str_list, out_param, owned_c_string, str_arg, write_out};
use super::{GoferEngine, GoferError, GoferStatus};
use crate::error::Error;
use crate::model::*;

/// What to run. Every pointer is borrowed for the duration of the call.
#[repr(C)]
pub struct GoferStartRequest {
    /// Container name (required): `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. A container of that name is
    /// replaced.
    pub id: *const c_char,
    /// Image reference, tag optional (required).
    pub image_name: *const c_char,
    /// `env_count` keys and values; may be NULL when `env_count` is 0.
    pub env_keys: *const *const c_char,
    pub env_values: *const *const c_char,
    pub env_count: usize,
    /// Registry credentials; a NULL user, or an empty user with an empty password, means no
    /// credentials. A user needs a password and a password a user.
    pub registry_user: *const c_char,
    pub registry_pass: *const c_char,
    /// Pull even when the image is present.
    pub always_pull: bool,
    /// Container port to publish on 127.0.0.1 (1..=65535); 0 means no networking.
    pub port: i64,
    /// NULL: the image's entrypoint. Non-NULL with count 0: an empty entrypoint.
    pub entrypoint: *const *const c_char,
    pub entrypoint_count: usize,
    /// NULL: the image's command. Non-NULL with count 0: an empty command.
    pub command: *const *const c_char,
    pub command_count: usize,
    /// Memory limit in bytes, at least 6 MiB; 0 means none. Swap is disabled so that it holds.
    pub memory_bytes: i64,
    /// CPUs, fractional as `docker run --cpus` (1.5), at least 0.01; 0 means no limit.
    pub cpus: f64,
    /// Most processes (and threads) at once; 0 means no limit.
    pub pids_limit: i64,
    /// Size of /dev/shm in bytes; 0 means the engine's default.
    pub shm_size_bytes: i64,
    /// `mount_count` mounts; may be NULL when `mount_count` is 0.
    pub mounts: *const GoferMount,
    pub mount_count: usize,
    /// The process's working directory (absolute); NULL: the image's.
    pub working_dir: *const c_char,
    /// The user (and group) to run as ("1000", "1000:1000", "nobody"); NULL: the image's.
    pub user: *const c_char,
    /// `label_count` label keys and values; may be NULL when `label_count` is 0. The library's
    /// own label (dev.gofer.scheduler.managed) cannot be set.
    pub label_keys: *const *const c_char,
    pub label_values: *const *const c_char,
    pub label_count: usize,
    /// Runs the container privileged (every device and capability, no confinement): a
    /// security decision of the caller.
    pub privileged: bool,
    /// Called with every message of the image's pull (per layer: its ID, status, bytes done
    /// and in all) as it comes, on the thread that called the start, during the call; NULL for
    /// none. `progress` and its strings are borrowed for the callback's call only.
    pub pull_progress: Option<extern "C" fn(progress: *const GoferPullProgress, data: *mut c_void)>,
    /// Handed to `pull_progress` as it is; the library never reads it.
    pub pull_progress_data: *mut c_void,
}

/// One message of an image pull's progress (see `GoferStartRequest.pull_progress`).
#[repr(C)]
pub struct GoferPullProgress {
    /// The layer's short ID (or the tag, for messages about the whole image); may be "".
    pub layer: *const c_char,
    /// "Pulling fs layer", "Downloading", "Extracting", "Pull complete"...
    pub status: *const c_char,
    /// Bytes done and in all; -1 when the engine does not say.
    pub current: i64,
    pub total: i64,
}

/// The caller's progress callback and its data, called on the caller's thread: the blocking
/// call that owns it makes its requests there.
struct CProgress {
    callback: extern "C" fn(*const GoferPullProgress, *mut c_void),
    data: *mut c_void,
}

// SAFETY: a CProgress is used only during the blocking call that made it, on that call's own
// thread (the blocking face does its I/O, and runs progress callbacks, on the caller's thread).
unsafe impl Send for CProgress {}

impl CProgress {
    fn call(&mut self, update: &PullProgress) {
        let text = |s: &str| CString::new(s.replace('\0', "?")).unwrap_or_default();
        let (layer, status) = (text(&update.layer), text(&update.status));
        let number = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1);
        let progress = GoferPullProgress {
            layer: layer.as_ptr(),
            status: status.as_ptr(),
            current: number(update.current),
            total: number(update.total),
        };
        (self.callback)(&progress, self.data);
    }
}

/// Starts `request` on `engine`, with its progress callback when it has one.
fn start(engine: &GoferEngine, r: &GoferStartRequest) -> crate::Result<StartContainerResponse> {
    let request = start_request(r)?;
    match r.pull_progress {
        None => engine.engine.start_container(request),
        Some(callback) => {
            let mut c = CProgress { callback, data: r.pull_progress_data };
            engine.engine.start_container_with_progress(request, &mut |update: &PullProgress| c.call(update))
        }
    }
}

/// A request with every field absent (NULL, 0, false), as C's `GoferStartRequest r = {0};`.
impl Default for GoferStartRequest {
    fn default() -> Self {
        // SAFETY: every field is a pointer, a number or a bool, for which all-zero bytes are
        // NULL, 0 and false.
        unsafe { std::mem::zeroed() }
    }
}

/// What a [`GoferMount`] mounts (its `kind`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
pub enum GoferMountKind {
    /// A path of the engine's host, `source` (absolute; it must exist).
    GOFER_MOUNT_BIND = 0,
    /// A named volume, `source` its name; created by the engine when missing.
    GOFER_MOUNT_VOLUME = 1,
    /// A fresh tmpfs of `tmpfs_size_bytes` (0: the engine's default); `source` is NULL.
    GOFER_MOUNT_TMPFS = 2,
}

/// A file system mounted into the container. Every pointer is borrowed for the call.
#[repr(C)]
pub struct GoferMount {
    /// A GoferMountKind value; any other is GOFER_INVALID_ARGUMENT.
    pub kind: i32,
    /// Bind: the host path; volume: the volume's name; tmpfs: NULL.
    pub source: *const c_char,
    /// Where, inside the container: an absolute path.
    pub target: *const c_char,
    pub read_only: bool,
    /// Tmpfs only: its size in bytes; 0 means the engine's default.
    pub tmpfs_size_bytes: i64,
}

/// What `gofer_engine_start` gives: three strings owned by the caller, freed together by
/// `gofer_start_result_clear`.
#[repr(C)]
pub struct GoferStartResult {
    /// "127.0.0.1:<port>" when `request->port` was set, else "".
    pub url: *mut c_char,
    /// The container's full ID.
    pub container_id: *mut c_char,
    /// The ID of the image the container runs ("sha256:...").
    pub image_id: *mut c_char,
}


/// Starts a container (docs/contract.md, StartContainer). On success `*url_out` receives
/// "127.0.0.1:<port>" when `request->port` was set, else "" — owned by the caller, freed with
/// `gofer_string_free`. `url_out` may be NULL when the URL is not wanted.
#[no_mangle]
pub extern "C" fn gofer_engine_start_container(
    engine: *const GoferEngine,
    request: *const GoferStartRequest,
    url_out: *mut *mut c_char,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let request = handle(request, "request")?;
        let response = start(engine, request)?;
        if !url_out.is_null() {
            write_out(url_out, owned_c_string(response.url)?);
        }
        Ok(())
    })
}

/// Starts a container (docs/contract.md, StartContainer) and reports all it is: on success
/// `*result_out` receives the URL, the container's full ID and its image's ID, owned by the
/// caller until `gofer_start_result_clear(result_out)`.
#[no_mangle]
pub extern "C" fn gofer_engine_start(
    engine: *const GoferEngine,
    request: *const GoferStartRequest,
    result_out: *mut GoferStartResult,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let request = handle(request, "request")?;
        let result_out = out_param(result_out, "result_out")?;
        let response = start(engine, request)?;
        let url = owned_c_string(response.url)?;
        let strings = owned_c_string(response.container_id).and_then(|id| Ok((id, owned_c_string(response.image_id)?)));
        match strings {
            Ok((container_id, image_id)) => {
                write_out(result_out, GoferStartResult { url, container_id, image_id });
                Ok(())
            }
            Err(e) => {
                super::gofer_string_free(url);
                Err(e)
            }
        }
    })
}

/// Frees the strings of a start result and sets them to NULL. Accepts NULL, and a result whose
/// strings are NULL already (clearing twice is harmless).
#[no_mangle]
pub extern "C" fn gofer_start_result_clear(result: *mut GoferStartResult) {
    // SAFETY: NULL or a pointer to a result this library wrote (caller's duty).
    if let Some(result) = unsafe { result.as_mut() } {
        for s in [&mut result.url, &mut result.container_id, &mut result.image_id] {
            super::gofer_string_free(std::mem::replace(s, std::ptr::null_mut()));
        }
    }
}

fn start_request(r: &GoferStartRequest) -> crate::Result<StartContainerRequest> {
    let keys = opt_str_list(r.env_keys, r.env_count, "request.env_keys")?.unwrap_or_default();
    let values = opt_str_list(r.env_values, r.env_count, "request.env_values")?.unwrap_or_default();
    let env_vars: BTreeMap<String, String> = keys.into_iter().zip(values).collect();
    let keys = opt_str_list(r.label_keys, r.label_count, "request.label_keys")?.unwrap_or_default();
    let values = opt_str_list(r.label_values, r.label_count, "request.label_values")?.unwrap_or_default();
    let labels: BTreeMap<String, String> = keys.into_iter().zip(values).collect();
    let registry_auth = match opt_str_arg(r.registry_user, "request.registry_user")? {
        None => None,
        Some(user) => Some(RegistryAuth {
            user: user.to_owned(),
            pass: str_arg(r.registry_pass, "request.registry_pass")?.to_owned(),
        }),
    };
    let networking = match r.port {
        0 => None,
        p => Some(Networking {
            port: u16::try_from(p)
                .map_err(|_| Error::invalid_argument("request.port", format!("{p} is not in 1..=65535")))?,
        }),
    };
    Ok(StartContainerRequest {
        id: str_arg(r.id, "request.id")?.to_owned(),
        image_name: str_arg(r.image_name, "request.image_name")?.to_owned(),
        env_vars,
        registry_auth,
        always_pull: r.always_pull,
        networking,
        entrypoint: opt_str_list(r.entrypoint, r.entrypoint_count, "request.entrypoint")?,
        command: opt_str_list(r.command, r.command_count, "request.command")?,
        resources: Resources {
            memory_bytes: (r.memory_bytes != 0).then_some(r.memory_bytes),
            cpus: (r.cpus != 0.0).then_some(r.cpus),
            pids_limit: (r.pids_limit != 0).then_some(r.pids_limit),
            shm_size_bytes: (r.shm_size_bytes != 0).then_some(r.shm_size_bytes),
        },
        mounts: mounts(r.mounts, r.mount_count)?,
        working_dir: opt_str_arg(r.working_dir, "request.working_dir")?.map(str::to_owned),
        user: opt_str_arg(r.user, "request.user")?.map(str::to_owned),
        labels,
        privileged: r.privileged,
    })
}

fn mounts(ptr: *const GoferMount, count: usize) -> crate::Result<Vec<Mount>> {
    if ptr.is_null() {
        if count != 0 {
            return Err(Error::invalid_argument("request.mounts", format!("is NULL but its count is {count}")));
        }
        return Ok(Vec::new());
    }
    if count > MAX_LIST_LEN {
        return Err(Error::invalid_argument("request.mounts", format!("count {count} exceeds {MAX_LIST_LEN}")));
    }
    // SAFETY: non-NULL, and the caller guarantees `count` readable mounts.
    let items = unsafe { std::slice::from_raw_parts(ptr, count) };
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let field = |name: &str| format!("request.mounts[{i}].{name}");
            let kind = GoferMountKind::iter()
                .find(|k| *k as i32 == m.kind)
                .ok_or_else(|| Error::invalid_argument(&field("kind"), format!("{} is not a GoferMountKind", m.kind)))?;
            let source = || str_arg(m.source, &field("source")).map(str::to_owned);
            let kind = match kind {
                GoferMountKind::GOFER_MOUNT_BIND => MountKind::Bind { source: source()? },
                GoferMountKind::GOFER_MOUNT_VOLUME => MountKind::Volume { name: source()? },
                GoferMountKind::GOFER_MOUNT_TMPFS => {
                    MountKind::Tmpfs { size_bytes: (m.tmpfs_size_bytes != 0).then_some(m.tmpfs_size_bytes) }
                }
            };
            Ok(Mount { kind, target: str_arg(m.target, &field("target"))?.to_owned(), read_only: m.read_only })
        })
        .collect()
}

