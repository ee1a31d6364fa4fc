//! The seed's request and response types, in Rust.
//!
//! Names follow Gofer's `scheduler` package (`StartContainerRequest`, `ContainerState`, ...), so
//! that a reader of the seed finds their way here and every binding converts field by field.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The kind of engine a scheduler drives (the seed's `EngineType`); its string is the seed's
/// (`"docker"`). The C ABI and the bindings choose an engine by this string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum EngineType {
    Docker,
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
/// `Debug` shows env var keys only: Gofer passes a pipeline's secrets as env values.
#[derive(Clone, Default, PartialEq, Eq)]
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
            .finish()
    }
}

impl StartContainerRequest {
    /// A request with only the required fields set.
    pub fn new(id: impl Into<String>, image_name: impl Into<String>) -> Self {
        StartContainerRequest { id: id.into(), image_name: image_name.into(), ..Default::default() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartContainerResponse {
    /// `127.0.0.1:<host port>` when networking was asked for, else empty.
    pub url: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetStateResponse {
    /// The container's exit code, whole (never truncated to 8 or 32 bits).
    pub exit_code: i64,
    pub state: ContainerState,
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
        let err = EngineType::parse("engine_type", "nomad").unwrap_err();
        assert!(err.message().starts_with("engine_type: \"nomad\" is not an engine type; known are docker"), "{err}");
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
