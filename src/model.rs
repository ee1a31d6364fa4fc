//! The seed's request and response types, in Rust.
//!
//! Names follow Gofer's `scheduler` package (`StartContainerRequest`, `ContainerState`, ...), so
//! that a reader of the seed finds their way here and every binding converts field by field.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

/// The label put on every container this library creates; prune removes only those, and the
/// list of managed containers lists only those.
pub const MANAGED_LABEL: &str = "dev.gofer.scheduler.managed";

/// The kind of engine a scheduler drives (the seed's `EngineType`); its string is the seed's
/// (`"docker"`), `"swarm"` for Docker Swarm. The C ABI and the bindings choose an engine by
/// this string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum EngineType {
    Docker,
    /// Docker Swarm: every task a replicated-job service (docs/contract.md, "Swarm").
    Swarm,
}

impl EngineType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The engine type named `name` ("docker"); an invalid-argument error naming `field` else.
    pub fn parse(field: &str, name: &str) -> crate::Result<Self> {
        name.parse().map_err(|_| {
            let known: Vec<&str> = <EngineType as strum::IntoEnumIterator>::iter().map(EngineType::as_str).collect();
            crate::Error::invalid_argument(field, format!("{name:?} is not an engine type; known are {}", known.join(", ")))
        })
    }
}

/// The state of a container as Gofer sees it; the string values are the seed's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerState {
    Unknown,
    Running,
    Paused,
    Restarting,
    Exited,
    Cancelled,
}

impl ContainerState {
    /// The seed's string value: `"UNKNOWN"`, `"RUNNING"`, ...
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Registry credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub user: String,
    pub pass: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth").field("user", &self.user).field("pass", &"<redacted>").finish()
    }
}

/// Publish one container port on the host (the seed's `Networking`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Networking {
    /// The port the application listens on inside the container.
    pub port: u16,
}

/// Everything needed to run one task as a container.
///
/// `Debug` shows env var keys only: Gofer passes a pipeline's secrets as env values. Every field
/// but the first two is optional; left at its default it changes nothing.
#[derive(Clone, Default, PartialEq)]
pub struct StartContainerRequest {
    /// Unique name of the container; a container with this name is replaced.
    pub id: String,
    /// Image reference, tag or digest optional (`busybox`, `host:5000/a/b:tag`, `x@sha256:..`).
    pub image_name: String,
    pub env_vars: BTreeMap<String, String>,
    pub registry_auth: Option<RegistryAuth>,
    /// Pull even when the image is present locally (for tags that move).
    pub always_pull: bool,
    pub networking: Option<Networking>,
    /// `None`: the image's own entrypoint. `Some(vec![])`: no entrypoint at all.
    pub entrypoint: Option<Vec<String>>,
    /// `None`: the image's own command. `Some(vec![])` is passed to the engine as an empty list.
    pub command: Option<Vec<String>>,
    /// Limits on memory, CPU, processes and shared memory.
    pub resources: Resources,
    /// File systems mounted into the container.
    pub mounts: Vec<Mount>,
    /// The process's working directory (absolute); `None`: the image's.
    pub working_dir: Option<String>,
    /// The user (and group) the process runs as (`1000`, `1000:1000`, `nobody`); `None`: the
    /// image's.
    pub user: Option<String>,
    /// Labels of the container, beside the library's own (which cannot be set here).
    pub labels: BTreeMap<String, String>,
    /// Runs the container privileged: every device, every capability, no confinement. A
    /// security decision of the caller; off unless asked for.
    pub privileged: bool,
}

impl fmt::Debug for StartContainerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartContainerRequest")
            .field("id", &self.id)
            .field("image_name", &self.image_name)
            .field("env_vars", &self.env_vars.keys().map(|k| (k, "<redacted>")).collect::<BTreeMap<_, _>>())
            .field("registry_auth", &self.registry_auth)
            .field("always_pull", &self.always_pull)
            .field("networking", &self.networking)
            .field("entrypoint", &self.entrypoint)
            .field("command", &self.command)
            .field("resources", &self.resources)
            .field("mounts", &self.mounts)
            .field("working_dir", &self.working_dir)
            .field("user", &self.user)
            .field("labels", &self.labels)
            .field("privileged", &self.privileged)
            .finish()
    }
}

impl StartContainerRequest {
    /// A request with only the required fields set.
    pub fn new(id: impl Into<String>, image_name: impl Into<String>) -> Self {
        StartContainerRequest { id: id.into(), image_name: image_name.into(), ..Default::default() }
    }
}

/// Limits on what a container may use; `None` leaves a limit to the engine's default (none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resources {
    /// Memory in bytes, at least 6 MiB (the engine's minimum). Swap is disabled (memory plus
    /// swap is set to the same value), so that the limit holds.
    pub memory_bytes: Option<i64>,
    /// CPUs, fractional, as `docker run --cpus` (1.5: one and a half CPUs' time).
    pub cpus: Option<f64>,
    /// Most processes (and threads) at once.
    pub pids_limit: Option<i64>,
    /// Size of `/dev/shm` in bytes.
    pub shm_size_bytes: Option<i64>,
}

/// A file system mounted into the container at `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    /// Where, inside the container: an absolute path.
    pub target: String,
    /// Mounted read-only: writes fail inside the container.
    pub read_only: bool,
}

/// What a [`Mount`] mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A path of the engine's host (absolute; it must exist).
    Bind { source: String },
    /// A named volume, created by the engine when it does not exist.
    Volume { name: String },
    /// A fresh tmpfs, at most `size_bytes` (`None`: the engine's default).
    Tmpfs { size_bytes: Option<i64> },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartContainerResponse {
    /// `127.0.0.1:<host port>` when networking was asked for, else empty.
    pub url: String,
    /// The container's full ID.
    pub container_id: String,
    /// The ID of the image the container runs (`sha256:...`).
    pub image_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopContainerRequest {
    pub id: String,
    /// Grace period between the stop signal and SIGKILL; zero kills at once.
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetStateRequest {
    pub id: String,
}

/// A container's state, as GetState and WaitContainer report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetStateResponse {
    /// The container's exit code, whole (never truncated to 8 or 32 bits); 0 until it exits.
    pub exit_code: i64,
    pub state: ContainerState,
    /// The kernel killed the container's process for lack of memory (the engine's own flag,
    /// never guessed from exit code 137).
    pub oom_killed: bool,
    /// When the container started; `None` before it has.
    pub started_at: Option<SystemTime>,
    /// When it stopped; `None` while it has not.
    pub finished_at: Option<SystemTime>,
}

impl GetStateResponse {
    /// A state with only its state and exit code known.
    pub fn new(state: ContainerState, exit_code: i64) -> Self {
        GetStateResponse { exit_code, state, oom_killed: false, started_at: None, finished_at: None }
    }
}

/// Waits until a container has exited: the answer is EXITED or CANCELLED (see [`GetStateResponse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitContainerRequest {
    pub id: String,
}

/// A container this library manages, as a runner restarted mid-job finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSummary {
    /// The container's name (the ID it was started with).
    pub name: String,
    /// The full ID.
    pub id: String,
    /// Its state, exit code, OOM flag and times, as GetState gives them.
    pub state: GetStateResponse,
    /// When the container was created.
    pub created_at: Option<SystemTime>,
    /// Its labels, the library's own among them.
    pub labels: BTreeMap<String, String>,
}

/// One message of an image pull's progress, as the engine reports it, per layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullProgress {
    /// The layer (a short ID), or the tag for the messages about the whole image; may be empty.
    pub layer: String,
    /// What happens to it: "Pulling fs layer", "Downloading", "Extracting", "Pull complete"...
    pub status: String,
    /// Bytes done and in all, when the engine says.
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// Called with every message of a pull's progress, on the thread that makes the call. A
/// callback that panics is not called again, and the pull goes on.
pub type ProgressCallback<'a> = &'a mut (dyn FnMut(&PullProgress) + Send);

/// Which of the process's outputs a log frame came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum LogSource {
    Stdout,
    Stderr,
}

impl LogSource {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A piece of a container's log, from one of its streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFrame {
    pub source: LogSource,
    pub data: bytes::Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetLogsRequest {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachContainerRequest {
    pub id: String,
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_seed_s_strings() {
        let states: Vec<&str> = <ContainerState as strum::IntoEnumIterator>::iter().map(ContainerState::as_str).collect();
        assert_eq!(states, ["UNKNOWN", "RUNNING", "PAUSED", "RESTARTING", "EXITED", "CANCELLED"]);
        assert_eq!(EngineType::Docker.as_str(), "docker");
        assert_eq!(EngineType::parse("engine_type", "docker").unwrap(), EngineType::Docker);
        assert_eq!(EngineType::parse("engine_type", "swarm").unwrap(), EngineType::Swarm);
        let err = EngineType::parse("engine_type", "nomad").unwrap_err();
        assert!(err.message().starts_with("engine_type: \"nomad\" is not an engine type; known are docker, swarm"), "{err}");
    }

    #[test]
    fn debug_strings_show_no_secret() {
        let mut req = StartContainerRequest::new("job", "image");
        req.env_vars.insert("API_TOKEN".into(), "s3cr3t-env-value".into());
        req.registry_auth = Some(RegistryAuth { user: "u".into(), pass: "s3cr3t-password".into() });
        let shown = format!("{req:?}");
        assert!(shown.contains("API_TOKEN"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
