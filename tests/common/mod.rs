//! Shared pieces of the integration tests: the test bed's facts, unique container names that
//! are removed when the test ends (also when it fails), and bounds on every wait.
//!
//! The test bed (Docker engine, local image, private registry) is brought up by
//! `scripts/testbed.sh up`, which writes `target/testbed/env`; these helpers read it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use gofer_scheduler::*;

/// Every container a test creates is named with this prefix, so a leak is easy to spot and
/// `scripts/testbed.sh down` can sweep them.
pub const PREFIX: &str = "gofer-test-";

/// Upper bound of any single test step: a wedged daemon fails the test instead of hanging CI.
pub const STEP: Duration = Duration::from_secs(60);

/// The facts `scripts/testbed.sh` wrote.
pub struct Bed {
    pub image: String,
    pub entrypoint_image: String,
    pub registry: String,
    pub user: String,
    pub pass: String,
    pub private_image: String,
    /// Three layers, in the registry only: its pull reports progress per layer.
    pub multilayer_image: String,
}

pub fn bed() -> Bed {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/testbed/env");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run `scripts/testbed.sh up` first"));
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| std::env::var(k).ok().or(vars.get(k).map(|v| v.to_string())).unwrap_or_else(|| panic!("{k} missing from {path}"));
    Bed {
        image: get("GOFER_TEST_IMAGE"),
        entrypoint_image: get("GOFER_TEST_ENTRYPOINT_IMAGE"),
        registry: get("GOFER_TEST_REGISTRY"),
        user: get("GOFER_TEST_REGISTRY_USER"),
        pass: get("GOFER_TEST_REGISTRY_PASS"),
        private_image: get("GOFER_TEST_PRIVATE_IMAGE"),
        multilayer_image: get("GOFER_TEST_MULTILAYER_IMAGE"),
    }
}

pub async fn engine() -> DockerEngine {
    let options = DockerOptions { timeout: Duration::from_secs(30), ..Default::default() };
    bounded("connect", DockerEngine::connect(options)).await.expect("the test bed's engine answers")
}

/// Awaits `f` at most [`STEP`]; a step that takes longer fails the test with its name.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no result within {STEP:?} (is the daemon wedged?)"),
    }
}

/// A container name unique to this run, removed (with `docker rm -f`) when dropped.
pub struct Name(pub String);

impl Name {
    pub fn new(test: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        Name(format!("{PREFIX}{test}-{}-{n}", std::process::id()))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        remove_container(&self.0);
    }
}

/// Force-removes a container by name or ID, bounded in time; never fails the test.
pub fn remove_container(id: &str) {
    let _ = Command::new("timeout").args(["30", "docker", "rm", "-fv", id]).output();
}

/// Removes an image tag, bounded in time; never fails the test.
pub fn remove_image(image: &str) {
    let _ = Command::new("timeout").args(["30", "docker", "rmi", "-f", image]).output();
}

/// A request to run `sh -c script` in the test image.
pub fn shell(name: &Name, script: &str) -> StartContainerRequest {
    let mut req = StartContainerRequest::new(name.0.clone(), bed().image);
    req.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    req
}

/// Polls GetState until the container has exited (EXITED or CANCELLED).
pub async fn wait_exit(engine: &DockerEngine, id: &str) -> GetStateResponse {
    bounded("wait for exit", async {
        loop {
            let state = engine.get_state(GetStateRequest { id: id.into() }).await.expect("get_state");
            if matches!(state.state, ContainerState::Exited | ContainerState::Cancelled) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Reads a log stream to its end.
pub async fn read_all(mut logs: LogStream) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = bounded("log read", logs.next()).await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Starts `req`, waits for the exit and returns (state, logs).
pub async fn run(engine: &DockerEngine, req: StartContainerRequest) -> (GetStateResponse, String) {
    let id = req.id.clone();
    bounded("start", engine.start_container(req)).await.expect("start_container");
    let state = wait_exit(engine, &id).await;
    let logs = bounded("get_logs", engine.get_logs(GetLogsRequest { id })).await.expect("get_logs");
    let bytes = read_all(logs).await.expect("logs read to the end");
    (state, String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether the tests run against Podman's Docker-compatible API (`scripts/test-podman.sh` sets
/// `GOFER_TEST_ENGINE=podman`). Only fixtures differ: never what a test asserts.
pub fn on_podman() -> bool {
    std::env::var("GOFER_TEST_ENGINE").is_ok_and(|v| v == "podman")
}

/// Whether the engine under test keeps its images in the containerd image store
/// (`scripts/test-engine.sh docker-28.5-c8d`). Only what a pull's progress must show differs.
pub fn containerd_store() -> bool {
    std::env::var("GOFER_ENGINE_VERSION").is_ok_and(|v| v.ends_with("-c8d"))
}

/// The Unix socket of the engine under test: `DOCKER_HOST`'s when it is a `unix://` address
/// (as the library and the docker CLI find it), else Docker's default socket.
pub fn engine_socket() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => host["unix://".len()..].to_owned(),
        _ => "/var/run/docker.sock".to_owned(),
    }
}

/// Runs `f` on a thread of its own that has joined the network namespace at `netns` (a
/// `/run/netns/...` path): a socket it makes belongs to that namespace, and works from any
/// thread afterwards.
pub fn in_netns<T: Send + 'static>(netns: &str, f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    let netns = netns.to_owned();
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let ns = std::fs::File::open(&netns)?;
        // SAFETY: setns on a descriptor we own; it changes this short-lived thread only.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .expect("the thread in the namespace does not panic")
}

/// Connects to a port the engine published on its loopback (`127.0.0.1:N`). An engine of the
/// version matrix runs in a network namespace of its own (`GOFER_TEST_ENGINE_NETNS`, set by
/// `scripts/test-engine.sh`), where its loopback is.
pub fn connect_published(url: &str) -> std::io::Result<std::net::TcpStream> {
    let url = url.to_owned();
    match std::env::var("GOFER_TEST_ENGINE_NETNS") {
        Ok(netns) => in_netns(&netns, move || std::net::TcpStream::connect(url)),
        Err(_) => std::net::TcpStream::connect(url),
    }
}

/// Runs a docker CLI command (bounded) with the test bed's client config; panics on failure.
pub fn docker_cli(args: &[&str]) -> String {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/target/testbed/docker-config");
    if on_podman() {
        if let Some(out) = podman_fixture(config, args) {
            return out;
        }
    }
    let out = Command::new("timeout")
        .arg("120")
        .arg("docker")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .output()
        .expect("docker CLI runs");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The two fixture steps the docker CLI cannot take through Podman 4.3's compat API, taken
/// another way with the same effect; `None` for every other command.
fn podman_fixture(config: &str, args: &[&str]) -> Option<String> {
    match args {
        // Podman's /auth checks a registry over HTTPS only (except `localhost:`), whatever
        // registries.conf says, and so refuses the test bed's plain-HTTP 127.0.0.1:5000. The
        // CLI config already holds the credentials (`scripts/testbed.sh up` logged in through
        // Docker), and the CLI sends them with every push: nothing to do but check that.
        ["login", registry, ..] => {
            let text = std::fs::read_to_string(format!("{config}/config.json")).unwrap_or_default();
            assert!(text.contains(&format!("\"{registry}\"")), "no credentials for {registry} in {config}; run `scripts/testbed.sh up`");
            Some(String::new())
        }
        // The docker CLI (25 and later) sends a commit without a body; Podman 4.3 decodes the
        // body as JSON and answers 500 "Decode(): EOF". The same request with `{}`.
        ["commit", container, reference] => {
            let (repo, tag) = match reference.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo, tag),
                _ => (*reference, "latest"),
            };
            let url = format!("http://d/v1.41/commit?container={container}&repo={repo}&tag={tag}");
            let out = Command::new("timeout")
                .args(["120", "curl", "-sS", "--fail-with-body", "--unix-socket", &engine_socket(), "-X", "POST"])
                .args(["-H", "Content-Type: application/json", "-d", "{}", &url])
                .output()
                .expect("curl runs");
            let body = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "commit {args:?}: {body} {}", String::from_utf8_lossy(&out.stderr));
            let id: serde_json::Value = serde_json::from_str(&body).expect("commit answer is JSON");
            let id = id["Id"].as_str().expect("commit answer has an Id");
            Some(if id.starts_with("sha256:") { id.to_owned() } else { format!("sha256:{id}") })
        }
        _ => None,
    }
}
