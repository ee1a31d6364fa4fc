//! Checks on caller input, made before anything is sent to the engine.
//!
//! The engine would refuse most of these too, but later, after a pull, and with a message that
//! does not name the field. Failing here keeps the error precise and the daemon untouched.

use crate::error::{Error, Result};
use crate::model::{AttachContainerRequest, Mount, MountKind, RegistryAuth, Resources, StartContainerRequest, MANAGED_LABEL};

/// A container name as the Docker engine accepts it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
///
/// IDs are also used as lookups (a name, a full ID or an ID prefix), all of which fit this shape.
pub fn container_id(field: &str, id: &str) -> Result<()> {
    if id.len() > MAX_NAME {
        return Err(Error::invalid_argument(field, format!("is {} characters long; at most {MAX_NAME}", id.len())));
    }
    let mut chars = id.chars();
    match chars.next() {
        None => return Err(Error::invalid_argument(field, "must not be empty")),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(Error::invalid_argument(
                field,
                format!("{id:?} must start with a letter or a digit"),
            ))
        }
        Some(_) => {}
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(Error::invalid_argument(
            field,
            format!("{id:?} contains {bad:?}; allowed are letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

/// AttachContainer's checks: the ID, and a command that names a program.
pub fn attach_request(req: &AttachContainerRequest) -> Result<()> {
    container_id("id", &req.id)?;
    if req.command.is_empty() {
        return Err(Error::invalid_argument("command", "must name a program to run"));
    }
    if req.command.iter().any(|a| a.contains('\0')) {
        return Err(Error::invalid_argument("command", "an argument contains NUL"));
    }
    Ok(())
}

/// Longest container name or image reference accepted. Both go into request URIs, which the
/// engine (and the HTTP library) refuse beyond some tens of KiB with a confusing "uri too long";
/// an image reference is at most 255 characters of name plus tag and digest anyway.
pub(crate) const MAX_NAME: usize = 4096;

/// Every check of StartContainer's validation (docs/contract.md, StartContainer 1).
pub fn start_request(req: &StartContainerRequest) -> Result<()> {
    container_id("id", &req.id)?;
    if req.image_name.trim().is_empty() {
        return Err(Error::invalid_argument("image_name", "must not be empty"));
    }
    if req.image_name.len() > MAX_NAME {
        return Err(Error::invalid_argument(
            "image_name",
            format!("is {} characters long; at most {MAX_NAME}", req.image_name.len()),
        ));
    }
    if req.image_name.contains(char::is_whitespace) || req.image_name.contains('\0') {
        return Err(Error::invalid_argument(
            "image_name",
            format!("{:?} must not contain whitespace or NUL", req.image_name),
        ));
    }
    for (key, value) in &req.env_vars {
        if key.is_empty() {
            return Err(Error::invalid_argument("env_vars", "a key is empty"));
        }
        if key.contains('=') || key.contains('\0') {
            return Err(Error::invalid_argument(
                "env_vars",
                format!("key {key:?} must not contain '=' or NUL"),
            ));
        }
        if value.contains('\0') {
            return Err(Error::invalid_argument(
                "env_vars",
                format!("value of {key:?} must not contain NUL"),
            ));
        }
    }
    if let Some(net) = &req.networking {
        if net.port == 0 {
            return Err(Error::invalid_argument("networking.port", "must be in 1..=65535"));
        }
    }
    for (field, list) in [("entrypoint", &req.entrypoint), ("command", &req.command)] {
        if list.iter().flatten().any(|arg| arg.contains('\0')) {
            return Err(Error::invalid_argument(field, "an argument contains NUL"));
        }
    }
    registry_auth(req.registry_auth.as_ref())?;
    resources(&req.resources)?;
    mounts(&req.mounts)?;
    if let Some(dir) = &req.working_dir {
        absolute_path("working_dir", dir)?;
    }
    if let Some(user) = &req.user {
        if user.is_empty() || user.contains(|c: char| c == '\0' || c.is_whitespace()) {
            return Err(Error::invalid_argument("user", format!("{user:?} is not a user name or ID")));
        }
    }
    for (key, value) in &req.labels {
        if key.is_empty() || key.contains('\0') || value.contains('\0') {
            return Err(Error::invalid_argument("labels", format!("{key:?}: a key must not be empty, and neither key nor value hold NUL")));
        }
        if key == MANAGED_LABEL {
            return Err(Error::invalid_argument("labels", format!("{key:?} is the library's own label, which marks what prune may remove")));
        }
    }
    Ok(())
}

/// The engine's smallest memory limit (Docker: "Minimum memory limit allowed is 6MB").
pub const MIN_MEMORY_BYTES: i64 = 6 * 1024 * 1024;

/// Limits, checked as the engine would, but naming the field.
fn resources(r: &Resources) -> Result<()> {
    if let Some(memory) = r.memory_bytes {
        if memory < MIN_MEMORY_BYTES {
            return Err(Error::invalid_argument(
                "resources.memory_bytes",
                format!("{memory} is below the engine's minimum of 6 MiB ({MIN_MEMORY_BYTES} bytes)"),
            ));
        }
    }
    if let Some(cpus) = r.cpus {
        // The engine takes nanoseconds of CPU per second, from a hundredth of a CPU.
        if !cpus.is_finite() || !(0.01..=1e9).contains(&cpus) {
            return Err(Error::invalid_argument("resources.cpus", format!("{cpus} is not a number of CPUs of at least 0.01")));
        }
    }
    for (field, value) in [("resources.pids_limit", r.pids_limit), ("resources.shm_size_bytes", r.shm_size_bytes)] {
        if let Some(value) = value {
            if value <= 0 {
                return Err(Error::invalid_argument(field, format!("{value} must be greater than 0")));
            }
        }
    }
    Ok(())
}

fn absolute_path(field: &str, path: &str) -> Result<()> {
    if !path.starts_with('/') || path.contains('\0') {
        return Err(Error::invalid_argument(field, format!("{path:?} must be an absolute path")));
    }
    Ok(())
}

/// Mounts: absolute targets, each once; a bind's source absolute, a volume's name a name, a
/// tmpfs's size positive. Whether a bind's source exists is for the engine, on its host.
fn mounts(mounts: &[Mount]) -> Result<()> {
    let mut targets = std::collections::BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let field = |name: &str| format!("mounts[{i}].{name}");
        absolute_path(&field("target"), &mount.target)?;
        if mount.target.trim_end_matches('/').is_empty() {
            return Err(Error::invalid_argument(&field("target"), "must not be the container's root"));
        }
        if !targets.insert(mount.target.trim_end_matches('/')) {
            return Err(Error::invalid_argument(&field("target"), format!("{:?} is mounted twice", mount.target)));
        }
        match &mount.kind {
            MountKind::Bind { source } => absolute_path(&field("source"), source)?,
            MountKind::Volume { name } => container_id(&field("name"), name)?,
            MountKind::Tmpfs { size_bytes: Some(size) } if *size <= 0 => {
                return Err(Error::invalid_argument(&field("size_bytes"), format!("{size} must be greater than 0")))
            }
            MountKind::Tmpfs { .. } => {}
        }
    }
    Ok(())
}

/// The credentials to pull with. An empty user with an empty password means none: Gofer passes
/// such a pair for every image that needs no login. Half a pair is a mistake of the caller.
pub fn registry_auth(auth: Option<&RegistryAuth>) -> Result<Option<&RegistryAuth>> {
    match auth {
        Some(a) if a.user.is_empty() && a.pass.is_empty() => Ok(None),
        Some(a) if a.user.is_empty() => {
            Err(Error::invalid_argument("registry_auth.user", "must not be empty when a password is given"))
        }
        Some(a) if a.pass.is_empty() => {
            Err(Error::invalid_argument("registry_auth.pass", "must not be empty when a user is given"))
        }
        other => Ok(other),
    }
}

/// Splits an image reference into the `fromImage` and `tag` parameters of the pull API.
///
/// The API pulls *every* tag of a repository when `tag` is empty, so a reference without a tag
/// must become `latest`, as `docker pull` does. A `:` before the last `/` is a registry port,
/// not a tag. A digest (`@sha256:...`) is passed as the tag, as the docker CLI does.
pub fn split_image_reference(image: &str) -> (&str, &str) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => (&image[..last_slash + colon], &image[last_slash + colon + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::model::Networking;

    #[test]
    fn container_ids_follow_the_engine_name_rule() {
        for ok in ["a", "gofer-run_1.task", "0abc", "A.B-C_d"] {
            assert!(container_id("id", ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(MAX_NAME + 1);
        assert!(container_id("id", &too_long[..MAX_NAME]).is_ok());
        for bad in ["", "-a", ".a", "_a", "a/b", "a b", "a\0", "é", "a:b", &too_long] {
            let err = container_id("id", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(err.message().starts_with("id:"), "{}", err.message());
        }
    }

    #[test]
    fn start_request_names_the_field_at_fault() {
        let mut req = StartContainerRequest::new("job", "busybox");
        assert!(start_request(&req).is_ok());
        req.env_vars.insert("A=B".into(), "x".into());
        assert!(start_request(&req).unwrap_err().message().starts_with("env_vars"));
        req.env_vars.clear();
        req.env_vars.insert(String::new(), "x".into());
        assert!(start_request(&req).unwrap_err().message().starts_with("env_vars"));
        req.env_vars.clear();
        req.networking = Some(Networking { port: 0 });
        assert!(start_request(&req).unwrap_err().message().starts_with("networking.port"));
        req.networking = None;
        req.registry_auth = Some(RegistryAuth { user: String::new(), pass: "p".into() });
        assert!(start_request(&req).unwrap_err().message().starts_with("registry_auth.user"));
        req.registry_auth = Some(RegistryAuth { user: "u".into(), pass: String::new() });
        assert!(start_request(&req).unwrap_err().message().starts_with("registry_auth.pass"));
        req.registry_auth = Some(RegistryAuth { user: String::new(), pass: String::new() });
        assert!(start_request(&req).is_ok(), "an empty pair means no credentials");
        assert_eq!(registry_auth(req.registry_auth.as_ref()).unwrap(), None);
        req.image_name = String::new();
        assert!(start_request(&req).unwrap_err().message().starts_with("image_name"));
    }

    #[test]
    fn limits_mounts_and_labels_are_checked_naming_the_field() {
        let refused = |req: &StartContainerRequest| start_request(req).unwrap_err().message().to_owned();
        let mut req = StartContainerRequest::new("job", "busybox");
        req.resources.memory_bytes = Some(MIN_MEMORY_BYTES - 1);
        assert!(refused(&req).starts_with("resources.memory_bytes: 6291455 is below"), "{}", refused(&req));
        req.resources.memory_bytes = Some(MIN_MEMORY_BYTES);
        assert!(start_request(&req).is_ok());
        for cpus in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.001] {
            req.resources.cpus = Some(cpus);
            assert!(refused(&req).starts_with("resources.cpus"), "{cpus}");
        }
        req.resources.cpus = Some(1.5);
        req.resources.pids_limit = Some(0);
        assert!(refused(&req).starts_with("resources.pids_limit"));
        req.resources.pids_limit = Some(64);
        req.resources.shm_size_bytes = Some(-1);
        assert!(refused(&req).starts_with("resources.shm_size_bytes"));
        req.resources.shm_size_bytes = None;
        assert!(start_request(&req).is_ok());

        let bind = |source: &str, target: &str| Mount { kind: MountKind::Bind { source: source.into() }, target: target.into(), read_only: false };
        req.mounts = vec![bind("/srv", "relative")];
        assert!(refused(&req).starts_with("mounts[0].target"));
        req.mounts = vec![bind("srv", "/work")];
        assert!(refused(&req).starts_with("mounts[0].source"));
        req.mounts = vec![bind("/a", "/work"), bind("/b", "/work/")];
        assert!(refused(&req).starts_with("mounts[1].target"), "{}", refused(&req));
        req.mounts = vec![bind("/a", "/")];
        assert!(refused(&req).starts_with("mounts[0].target"));
        req.mounts = vec![Mount { kind: MountKind::Volume { name: "a/b".into() }, target: "/v".into(), read_only: true }];
        assert!(refused(&req).starts_with("mounts[0].name"));
        req.mounts = vec![Mount { kind: MountKind::Tmpfs { size_bytes: Some(0) }, target: "/t".into(), read_only: false }];
        assert!(refused(&req).starts_with("mounts[0].size_bytes"));
        req.mounts.clear();

        req.working_dir = Some("work".into());
        assert!(refused(&req).starts_with("working_dir"));
        req.working_dir = Some("/work".into());
        req.user = Some("a b".into());
        assert!(refused(&req).starts_with("user"));
        req.user = Some("1000:1000".into());
        req.labels.insert(MANAGED_LABEL.into(), "false".into());
        assert!(refused(&req).starts_with("labels"));
        req.labels.clear();
        req.labels.insert("ci.job".into(), "42".into());
        assert!(start_request(&req).is_ok());
    }

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(split_image_reference("busybox"), ("busybox", "latest"));
        assert_eq!(split_image_reference("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(split_image_reference("127.0.0.1:5000/a/b"), ("127.0.0.1:5000/a/b", "latest"));
        assert_eq!(split_image_reference("127.0.0.1:5000/a/b:v2"), ("127.0.0.1:5000/a/b", "v2"));
        assert_eq!(split_image_reference("a/b@sha256:abcd"), ("a/b", "sha256:abcd"));
    }
}
