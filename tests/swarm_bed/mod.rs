//! The swarm test bed's facts (written by `scripts/swarm.sh up`) and helpers shared by the swarm
//! tests: unique service names removed when a test ends (also when it fails), the manager's
//! docker CLI, and the node a task landed on.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gofer_scheduler::*;

/// The request timeout of the tests' engines: a lost worker is reported within it.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct SwarmBed {
    pub manager: String,
    /// Node address (as the swarm knows it) → its engine's address.
    pub nodes: BTreeMap<String, String>,
    /// The workers' names for scripts/netns-engine.sh.
    pub workers: Vec<String>,
    pub registry: String,
    pub private_image: String,
    /// Each node's engine version (scripts/netns-engine.sh name → version), to restart it as it was.
    pub versions: BTreeMap<String, String>,
}

pub fn swarm_bed() -> SwarmBed {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/engines/swarm.env");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}; run `scripts/swarm.sh up` first"));
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| vars.get(k).map(|v| v.to_string()).unwrap_or_else(|| panic!("{k} missing from {path}"));
    let nodes = get("GOFER_SWARM_NODES").split(',').filter_map(|p| p.split_once('=')).map(|(a, b)| (a.to_owned(), b.to_owned())).collect();
    SwarmBed {
        manager: get("GOFER_SWARM_MANAGER"),
        nodes,
        workers: get("GOFER_SWARM_WORKERS").trim_matches('"').split_whitespace().map(String::from).collect(),
        registry: get("GOFER_SWARM_REGISTRY"),
        private_image: get("GOFER_SWARM_PRIVATE_IMAGE"),
        versions: get("GOFER_SWARM_NODE_VERSIONS")
            .split(',')
            .filter_map(|p| p.split_once('='))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
    }
}

/// The options of an engine on the test swarm; `with_nodes`: with every node's engine.
pub fn options(with_nodes: bool) -> SwarmOptions {
    let bed = swarm_bed();
    SwarmOptions {
        manager: DockerOptions { host: Some(bed.manager), timeout: TIMEOUT, ..Default::default() },
        nodes: if with_nodes { bed.nodes } else { BTreeMap::new() },
    }
}

/// Runs the docker CLI against `host` (bounded); its stdout, or its stderr as the error.
pub fn docker_at(host: &str, args: &[&str]) -> std::result::Result<String, String> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/target/testbed/docker-config");
    let out = Command::new("timeout").args(["60", "docker", "-H", host]).args(args).env("DOCKER_CONFIG", config).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The manager's docker CLI; panics on failure.
pub fn manager_cli(args: &[&str]) -> String {
    docker_at(&swarm_bed().manager, args).unwrap_or_else(|e| panic!("docker {args:?}: {e}"))
}

/// A service name unique to this run, its service removed when dropped.
pub struct Service(pub String);

impl Service {
    pub fn new(test: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        Service(format!("gofer-test-{test}-{}-{n}", std::process::id()))
    }
}

impl std::ops::Deref for Service {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = docker_at(&swarm_bed().manager, &["service", "rm", &self.0]);
    }
}

/// A request to run `sh -c script` in the test image.
pub fn shell(id: &str, script: &str) -> StartContainerRequest {
    let image = crate::common::bed().image;
    let mut req = StartContainerRequest::new(id.to_owned(), image);
    req.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    req
}

/// The tasks (IDs) of a service, newest first.
pub fn tasks_of(service: &str) -> Vec<String> {
    manager_cli(&["service", "ps", "-q", "--no-trunc", service]).lines().map(String::from).collect()
}

/// The address of the node that runs (or ran) the service's current task.
pub fn node_addr_of(service: &str) -> String {
    let task = tasks_of(service).into_iter().next().expect("the service has a task");
    let node = manager_cli(&["inspect", "-f", "{{.NodeID}}", &task]);
    manager_cli(&["node", "inspect", "-f", "{{.Status.Addr}}", &node])
}

/// Waits until every node of the swarm is ready again (after a restart), at most a minute.
pub fn wait_all_ready() {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let states = docker_at(&swarm_bed().manager, &["node", "ls", "--format", "{{.Status}}"]).unwrap_or_default();
        if states.lines().count() == swarm_bed().nodes.len() && states.lines().all(|s| s == "Ready") {
            return;
        }
        assert!(Instant::now() < deadline, "the swarm's nodes are not all ready: {states}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Runs scripts/netns-engine.sh NAME COMMAND (a node's dockerd killed or started again).
pub fn netns_engine(name: &str, command: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/netns-engine.sh");
    let mut args = vec!["180", script, name, command];
    let versions = swarm_bed().versions;
    if let (Some(version), "start") = (versions.get(name), command) {
        args.extend(["--version", version.as_str()]); // as it ran: a mixed swarm stays mixed
    }
    let out = Command::new("timeout").args(&args).output().expect("netns-engine.sh runs");
    assert!(out.status.success(), "netns-engine.sh {name} {command}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The netns-engine name of the worker whose address is `addr`, if it is a worker.
pub fn worker_named(addr: &str) -> Option<String> {
    let bed = swarm_bed();
    let engine = bed.nodes.get(addr)?;
    bed.workers.into_iter().find(|w| engine.contains(&format!("/{w}/")))
}
