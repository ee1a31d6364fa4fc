//! The Docker Engine API requests the library makes, built in one place: their paths, queries
//! and bodies (bollard's models of the API), and the version handshake.

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, ExecConfig};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::MANAGED_LABEL;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Request;
use crate::model::RegistryAuth;
use crate::validate::split_image_reference;

/// The newest API version the library asks for: that of bollard's models. An older engine's
/// own version is used instead (Docker 20.10: 1.41).
const NEWEST: (u32, u32) = (bollard::API_DEFAULT_VERSION.major_version as u32, bollard::API_DEFAULT_VERSION.minor_version as u32);
/// The oldest API version the library's requests need (Docker 20.10).
const OLDEST: (u32, u32) = (1, 41);

/// What a path segment may not hold as is: an image reference keeps its `/`, `:` and `@`.
const SEGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?').add(b'<').add(b'>').add(b'`').add(b'{').add(b'}');

pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    // Strings only: serde_urlencoded cannot fail on them.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

pub(crate) fn json<T: serde::Serialize>(what: &str, body: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(body)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("{what}: cannot encode the request: {e}")).with_source(e))
}

/// The version handshake: `GET /version`, outside any API version.
pub(crate) fn version() -> Request {
    let mut request = Request::get("version handshake", "/version".into());
    request.versioned = false;
    request
}

/// The API version to speak ("1.41"): the engine's own, at most [`NEWEST`].
pub(crate) fn negotiate(body: &[u8]) -> Result<String> {
    let unexpected = |why: String| Error::new(ErrorKind::Engine, format!("version handshake: {why}"));
    let version: bollard::models::SystemVersion =
        serde_json::from_slice(body).map_err(|e| unexpected(format!("unexpected answer: {e}")))?;
    let text = version.api_version.ok_or_else(|| unexpected("the engine gave no ApiVersion".into()))?;
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)))
        .ok_or_else(|| unexpected(format!("malformed ApiVersion {text:?}")))?;
    if parsed < OLDEST {
        return Err(unexpected(format!("the engine speaks API {text}; this library needs {}.{} or later", OLDEST.0, OLDEST.1)));
    }
    let (major, minor) = parsed.min(NEWEST);
    Ok(format!("{major}.{minor}"))
}

pub(crate) fn inspect_container(id: &str) -> Request {
    Request::get("container inspect", format!("/containers/{}/json", segment(id)))
}

pub(crate) fn create_container(name: &str, body: &ContainerCreateBody) -> Result<Request> {
    let what = "container create";
    Ok(Request::post(what, format!("/containers/create?{}", query(&[("name", name)]))).json(json(what, body)?))
}

pub(crate) fn start_container(id: &str) -> Request {
    Request::post("container start", format!("/containers/{}/start", segment(id)))
}

/// Removes a container and its anonymous volumes; `force` kills it first if it runs.
pub(crate) fn remove_container(id: &str, force: bool) -> Request {
    let path = format!("/containers/{}?v=1{}", segment(id), if force { "&force=1" } else { "" });
    Request::new("container remove", "DELETE", path)
}

pub(crate) fn kill_container(id: &str, signal: &str) -> Request {
    Request::post("container kill", format!("/containers/{}/kill?{}", segment(id), query(&[("signal", signal)])))
}

/// Waits until the container is not running (`not-running`) or until its next exit
/// (`next-exit`); the answer holds its exit code.
pub(crate) fn wait_container(id: &str, condition: &str) -> Request {
    Request::post("container wait", format!("/containers/{}/wait?{}", segment(id), query(&[("condition", condition)])))
}

/// The containers carrying the library's label; with `exited_only`, those that have exited.
pub(crate) fn list_managed(exited_only: bool) -> Request {
    let label = format!("{MANAGED_LABEL}=true");
    let filters = if exited_only {
        serde_json::json!({ "label": [label], "status": ["exited"] })
    } else {
        serde_json::json!({ "label": [label] })
    };
    Request::get("container list", format!("/containers/json?all=1&{}", query(&[("filters", &filters.to_string())])))
}

pub(crate) fn inspect_image(image: &str) -> Request {
    Request::get("image inspect", format!("/images/{}/json", segment(image)))
}

/// Pulls `image`; a reference without a tag pulls `latest` (see `split_image_reference`).
pub(crate) fn pull_image(image: &str, auth: Option<&RegistryAuth>) -> Result<Request> {
    let (repository, tag) = split_image_reference(image);
    let mut request = Request::post("image pull", format!("/images/create?{}", query(&[("fromImage", repository), ("tag", tag)])));
    if let Some(auth) = auth {
        request.registry_auth = Some(registry_auth(image, auth)?);
    }
    Ok(request)
}

/// The `X-Registry-Auth` value for `image`'s registry: on a pull, and on a swarm service create
/// (the swarm hands it to the node that pulls).
pub(crate) fn registry_auth(image: &str, auth: &RegistryAuth) -> Result<String> {
    let (repository, _) = split_image_reference(image);
    let credentials = DockerCredentials {
        username: Some(auth.user.clone()),
        password: Some(auth.pass.clone()),
        serveraddress: Some(registry_of(repository).to_owned()),
        ..Default::default()
    };
    // URL-safe, as the engine decodes it (bollard's standard alphabet would garble a password
    // whose encoding holds '+' or '/', and the engine would then pull anonymously).
    Ok(base64::engine::general_purpose::URL_SAFE.encode(json("registry credentials", &credentials)?))
}

/// The registry host of a repository, as the docker CLI puts it in the auth config.
fn registry_of(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "https://index.docker.io/v1/",
    }
}

pub(crate) fn create_exec(id: &str, command: &[String]) -> Result<Request> {
    let what = "exec create";
    let config = ExecConfig {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(true),
        cmd: Some(command.to_vec()),
        ..Default::default()
    };
    Ok(Request::post(what, format!("/containers/{}/exec", segment(id))).json(json(what, &config)?))
}

/// Starts an exec with a TTY, attached: the connection is upgraded and carries its raw bytes.
pub(crate) fn start_exec(exec_id: &str) -> Request {
    Request::post("exec start", format!("/exec/{}/start", segment(exec_id))).json(br#"{"Detach":false,"Tty":true}"#.to_vec())
}

pub(crate) fn resize_exec(exec_id: &str, width: u16, height: u16) -> Request {
    Request::post("exec resize", format!("/exec/{}/resize?h={height}&w={width}", segment(exec_id)))
}

pub(crate) fn inspect_exec(exec_id: &str) -> Request {
    Request::get("exec inspect", format!("/exec/{}/json", segment(exec_id)))
}

/// A container's logs, followed; `extra` adds the parameters of a later pass.
pub(crate) fn logs(full_id: &str, timestamps: bool, extra: &str) -> Request {
    let stamps = if timestamps { "&timestamps=1" } else { "" };
    Request::get("logs", format!("/containers/{}/logs?follow=1&stdout=1&stderr=1{stamps}{extra}", segment(full_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_version_is_the_engine_s_at_most_the_newest_known() {
        assert_eq!(negotiate(br#"{"ApiVersion":"1.41","Version":"20.10.24"}"#).unwrap(), "1.41");
        assert_eq!(negotiate(br#"{"ApiVersion":"1.99"}"#).unwrap(), format!("{}.{}", NEWEST.0, NEWEST.1));
        for bad in [&br#"{"ApiVersion":"1.40"}"#[..], br#"{"ApiVersion":"x"}"#, b"{}", b"nope"] {
            assert_eq!(negotiate(bad).unwrap_err().kind(), ErrorKind::Engine, "{bad:?}");
        }
    }

    #[test]
    fn registry_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(registry_of("127.0.0.1:5000/a/b"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(registry_of("library/busybox"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("busybox"), "https://index.docker.io/v1/");
    }

    #[test]
    fn credentials_go_url_safe_encoded_and_images_keep_their_slashes() {
        let auth = RegistryAuth { user: "u".into(), pass: "??>>".into() };
        let request = pull_image("127.0.0.1:5000/a/b:v2", Some(&auth)).unwrap();
        assert_eq!(request.path, "/images/create?fromImage=127.0.0.1%3A5000%2Fa%2Fb&tag=v2");
        let header = request.registry_auth.unwrap();
        assert!(!header.contains(['+', '/']), "{header}");
        let decoded = base64::engine::general_purpose::URL_SAFE.decode(header).unwrap();
        let credentials: DockerCredentials = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(credentials.password.as_deref(), Some("??>>"));
        assert_eq!(credentials.serveraddress.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(inspect_image("127.0.0.1:5000/a/b@sha256:ab").path, "/images/127.0.0.1:5000/a/b@sha256:ab/json");
        assert_eq!(inspect_image("a?b#c").path, "/images/a%3Fb%23c/json");
    }

    #[test]
    fn the_list_filter_names_the_library_s_label() {
        let request = list_managed(true);
        let (_, filters) = request.path.split_once("filters=").unwrap();
        let filters: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("f={filters}")).unwrap()[0].1.clone();
        let value: serde_json::Value = serde_json::from_str(&filters).unwrap();
        assert_eq!(value["label"][0], "dev.gofer.scheduler.managed=true");
        assert_eq!(value["status"][0], "exited");
    }
}
