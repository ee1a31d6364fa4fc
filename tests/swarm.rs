//! The swarm engine on a real swarm of three nodes (`scripts/swarm.sh up`): the contract's
//! behaviour as on a single engine, and what a swarm adds (placement on several nodes, a host
//! port on the task's node, credentials handed to the node that pulls). The faults (a worker
//! lost, the manager restarted) are in tests/swarm_faults.rs. Ignored by a plain `cargo test`
//! (no swarm there): `scripts/test-swarm.sh` brings the swarm up and runs them with `--ignored`.

mod common;
mod swarm_bed;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use common::{bed, bounded, read_all};
use futures_util::StreamExt;
use gofer_scheduler::*;
use swarm_bed::*;
use tokio::sync::RwLock;

/// Prune removes every finished managed service, other tests' too: it runs alone.
static EXCLUSIVE: RwLock<()> = RwLock::const_new(());

async fn engine(with_nodes: bool) -> SwarmEngine {
    bounded("connect", SwarmEngine::connect(options(with_nodes))).await.expect("the test swarm's manager answers")
}

async fn run(engine: &SwarmEngine, req: StartContainerRequest) -> (StartContainerResponse, GetStateResponse, String) {
    let id = req.id.clone();
    let started = bounded("start", engine.start_container(req)).await.expect("start_container");
    let state = bounded("wait", engine.wait_container(WaitContainerRequest { id: id.clone() })).await.expect("wait_container");
    let logs = bounded("get_logs", engine.get_logs(GetLogsRequest { id })).await.expect("get_logs");
    let bytes = read_all(logs).await.expect("logs read to the end");
    (started, state, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn only_a_swarm_manager_is_an_engine_and_node_addresses_are_checked() {
    let bed = swarm_bed();
    assert_eq!(engine(false).await.engine_type(), EngineType::Swarm);
    let worker = bed.nodes.iter().find(|(_, host)| **host != bed.manager).map(|(_, host)| host.clone()).unwrap();
    let mut options = options(false);
    options.manager.host = Some(worker);
    let e = SwarmEngine::connect(options).await.err().expect("a worker is no manager");
    assert_eq!(e.kind(), ErrorKind::Engine);
    assert!(e.message().contains("a worker, not a manager"), "{e}");
    let mut options = swarm_bed_options_with_node("w", "ssh://nope");
    options.manager.timeout = TIMEOUT;
    let e = SwarmEngine::connect(options).await.err().expect("a bad node address");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().starts_with("nodes: node \"w\""), "{e}");
}

fn swarm_bed_options_with_node(node: &str, address: &str) -> SwarmOptions {
    let mut options = options(false);
    options.nodes.insert(node.into(), address.into());
    options
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn a_task_runs_once_with_its_exit_code_logs_and_ids() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(true).await;
    let id = Service::new("exit");
    let (started, state, logs) = run(&engine, shell(&id, "echo out; echo err >&2; exit 3")).await;
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 3));
    assert!(state.started_at.is_some() && state.finished_at.is_some(), "{state:?}");
    assert!(logs.contains("out\n") && logs.contains("err\n"), "{logs:?}");
    assert_eq!(started.container_id, manager_cli(&["service", "inspect", "-f", "{{.ID}}", &id]));
    assert!(started.image_id.starts_with("sha256:"), "{started:?}");
    let by_id = engine.get_state(GetStateRequest { id: started.container_id.clone() }).await.expect("state by service ID");
    assert_eq!((by_id.state, by_id.exit_code), (ContainerState::Exited, 3));
    // A failed task is not started again (the restart delay would be 5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(tasks_of(&id).len(), 1, "one run only: {:?}", tasks_of(&id));
    let mut frames = engine.get_log_frames(GetLogsRequest { id: id.0.clone() }).await.expect("frames");
    let mut seen = Vec::new();
    while let Some(frame) = bounded("frame", frames.next()).await {
        let frame = frame.expect("a frame");
        seen.push((frame.source, String::from_utf8_lossy(&frame.data).into_owned()));
    }
    assert!(seen.contains(&(LogSource::Stdout, "out\n".into())) && seen.contains(&(LogSource::Stderr, "err\n".into())), "{seen:?}");
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn logs_follow_a_running_task_and_end_soon_after_it_does() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    let id = Service::new("follow");
    let script = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done";
    bounded("start", engine.start_container(shell(&id, script))).await.expect("start");
    let logs = bounded("get_logs", engine.get_logs(GetLogsRequest { id: id.0.clone() })).await.expect("get_logs");
    let text = String::from_utf8(read_all(logs).await.expect("the whole log")).unwrap();
    let ended = Instant::now();
    let expected: String = (1..=6).map(|i| format!("line {i}\n")).collect();
    assert_eq!(text, expected);
    let state = engine.get_state(GetStateRequest { id: id.0.clone() }).await.expect("state");
    assert_eq!(state.state, ContainerState::Exited, "the log ended once the task had");
    assert!(ended.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn stop_honours_the_grace_period_and_reports_cancelled_with_the_exit_code() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(true).await;
    let polite = Service::new("stop-term");
    let stubborn = Service::new("stop-kill");
    let term = "trap 'echo got term; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
    bounded("start", engine.start_container(shell(&polite, term))).await.expect("start");
    bounded("start", engine.start_container(shell(&stubborn, "trap '' TERM; while :; do sleep 0.1; done"))).await.expect("start");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = |id: &str, ms| engine.stop_container(StopContainerRequest { id: id.into(), timeout: Duration::from_millis(ms) });
    bounded("stop", stop(&polite, 5000)).await.expect("stop");
    let state = engine.get_state(GetStateRequest { id: polite.0.clone() }).await.expect("state");
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 7));
    let asked = Instant::now();
    bounded("stop", stop(&stubborn, 500)).await.expect("stop");
    let took = asked.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(4), "{took:?}");
    let state = bounded("wait", engine.wait_container(WaitContainerRequest { id: stubborn.0.clone() })).await.expect("wait");
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 137));
    // Stopping a task that has ended leaves it as it was.
    bounded("stop again", stop(&polite, 0)).await.expect("a second stop");
    assert_eq!(engine.get_state(GetStateRequest { id: polite.0.clone() }).await.unwrap().state, ContainerState::Cancelled);
    let done = Service::new("stop-done");
    let (_, state, _) = run(&engine, shell(&done, "exit 0")).await;
    bounded("stop", stop(&done, 0)).await.expect("stop of an exited task");
    assert_eq!(engine.get_state(GetStateRequest { id: done.0.clone() }).await.unwrap(), state, "still EXITED");
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn attach_runs_a_command_in_the_task_through_its_node_s_engine() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(true).await;
    let id = Service::new("attach");
    bounded("start", engine.start_container(shell(&id, "echo inside > /tmp/mark; sleep 60"))).await.expect("start");
    let session = bounded("attach", engine.attach_container(AttachContainerRequest { id: id.0.clone(), command: vec!["sh".into()] })).await.expect("attach");
    // SAFETY: a duplicate of the session's descriptor, owned by this stream.
    let mut socket = unsafe { std::os::unix::net::UnixStream::from_raw_fd(libc::dup(session.fd().as_raw_fd())) };
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    socket.write_all(b"cat /tmp/mark; exit 5\n").unwrap();
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).contains("inside"), "{:?}", String::from_utf8_lossy(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.exit_code().await.expect("exit code").is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(session.exit_code().await.unwrap(), Some(5));
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn without_the_node_s_engine_attach_and_stop_are_a_clear_error() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    let id = Service::new("no-nodes");
    bounded("start", engine.start_container(shell(&id, "sleep 60"))).await.expect("start");
    let e = engine.attach_container(AttachContainerRequest { id: id.0.clone(), command: vec!["true".into()] }).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("nodes: task") && e.message().contains("proxies neither exec nor signals"), "{e}");
    let e = engine.stop_container(StopContainerRequest { id: id.0.clone(), timeout: Duration::ZERO }).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(engine.get_state(GetStateRequest { id: id.0.clone() }).await.unwrap().state, ContainerState::Running);
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn errors_have_the_single_engine_s_kinds_and_the_swarm_s_reasons() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    let unknown = engine.get_state(GetStateRequest { id: "gofer-test-no-such-service".into() }).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NoSuchContainer);
    let e = engine.wait_container(WaitContainerRequest { id: "gofer-test-no-such-service".into() }).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchContainer);
    let e = engine.get_logs(GetLogsRequest { id: "gofer-test-no-such-service".into() }).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::NoSuchContainer);
    // An image no node has and none can pull: the swarm's reason, and nothing left behind.
    let id = Service::new("no-image");
    let e = bounded("start", engine.start_container(StartContainerRequest::new(id.0.clone(), "gofer-test/none:latest"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchImage, "{e}");
    assert!(e.message().contains("No such image: gofer-test/none:latest"), "{e}");
    assert_eq!(engine.get_state(GetStateRequest { id: id.0.clone() }).await.unwrap_err().kind(), ErrorKind::NoSuchContainer);
    // What swarm cannot do is refused before the manager is asked.
    let mut req = shell(&id, "true");
    req.privileged = true;
    assert_eq!(engine.start_container(req).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    let mut req = StartContainerRequest::new(id.0.clone(), bed().image);
    req.entrypoint = Some(Vec::new());
    assert!(engine.start_container(req).await.unwrap_err().message().contains("entrypoint:"));
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn six_tasks_at_once_are_spread_over_at_least_two_nodes() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    let ids: Vec<Service> = (0..6).map(|_| Service::new("spread")).collect();
    let starts = ids.iter().map(|id| engine.start_container(shell(id, "sleep 3")));
    for started in bounded("six starts", futures_util::future::join_all(starts)).await {
        started.expect("start");
    }
    let nodes: std::collections::BTreeSet<String> = ids.iter().map(|id| node_addr_of(id)).collect();
    assert!(nodes.len() >= 2, "all six on {nodes:?}");
    for id in &ids {
        let state = bounded("wait", engine.wait_container(WaitContainerRequest { id: id.0.clone() })).await.expect("wait");
        assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 0));
    }
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn a_published_port_is_on_the_task_s_node_in_host_mode() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    let id = Service::new("port");
    let mut req = shell(&id, "mkdir /w && echo hello-swarm > /w/index.html && httpd -f -p 8080 -h /w");
    req.networking = Some(Networking { port: 8080 });
    let started = bounded("start", engine.start_container(req)).await.expect("start");
    let (addr, _) = started.url.split_once(':').expect("addr:port");
    assert_eq!(addr, node_addr_of(&id), "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let attempt = std::net::TcpStream::connect(&started.url).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text).map(|_| text)
        });
        match attempt {
            Ok(text) if text.contains("hello-swarm") => break text,
            other if Instant::now() > deadline => panic!("{} answers {other:?}", started.url),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert!(body.starts_with("HTTP/1."), "{body}");
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn credentials_go_to_the_node_that_pulls_a_private_image() {
    let _shared = EXCLUSIVE.read().await;
    let (bed, swarm) = (bed(), swarm_bed());
    for host in swarm.nodes.values() {
        let _ = docker_at(host, &["rmi", "-f", &swarm.private_image]);
    }
    let engine = engine(false).await;
    let id = Service::new("private");
    let e = bounded("start", engine.start_container(shell(&id, "true").with_image(&swarm.private_image))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchImage, "without credentials: {e}");
    let mut req = shell(&id, "echo pulled").with_image(&swarm.private_image);
    req.registry_auth = Some(RegistryAuth { user: bed.user, pass: bed.pass });
    let (_, state, logs) = run(&engine, req).await;
    assert_eq!((state.state, logs.as_str()), (ContainerState::Exited, "pulled\n"));
}

trait WithImage {
    fn with_image(self, image: &str) -> Self;
}

impl WithImage for StartContainerRequest {
    fn with_image(mut self, image: &str) -> Self {
        self.image_name = image.to_owned();
        self
    }
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn settings_reach_the_task_and_the_list_names_it_by_its_id() {
    let _shared = EXCLUSIVE.read().await;
    let engine = engine(false).await;
    // Gofer's IDs hold '_', which a service name cannot: the service gets a name of its own.
    let id = format!("gofer_test_settings_{}", std::process::id());
    let mut req = shell(&id, "echo $GREETING; pwd; id -u; echo x > /scratch/f && cat /scratch/f; df -k /dev/shm | tail -1");
    req.env_vars.insert("GREETING".into(), "hello".into());
    req.working_dir = Some("/tmp".into());
    req.user = Some("1000".into());
    req.mounts = vec![Mount { kind: MountKind::Tmpfs { size_bytes: Some(1 << 20) }, target: "/scratch".into(), read_only: false }];
    req.resources = Resources { memory_bytes: Some(64 << 20), cpus: Some(0.5), pids_limit: Some(50), shm_size_bytes: Some(2 << 20) };
    req.labels.insert("team".into(), "ci".into());
    let started = bounded("start", engine.start_container(req)).await.expect("start");
    let _service = Service(started.container_id.clone());
    assert!(manager_cli(&["service", "inspect", "-f", "{{.Spec.Name}}", &started.container_id]).starts_with("gofer-test-settings-"));
    let state = bounded("wait", engine.wait_container(WaitContainerRequest { id: id.clone() })).await.expect("wait by the ID");
    let logs = read_all(engine.get_logs(GetLogsRequest { id: id.clone() }).await.expect("logs")).await.expect("the whole log");
    let logs = String::from_utf8_lossy(&logs);
    assert_eq!(state.exit_code, 0, "{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(&lines[..4], ["hello", "/tmp", "1000", "x"], "{logs}");
    assert_eq!(lines[4].split_whitespace().nth(1), Some("2048"), "a 2 MiB /dev/shm: {logs}");
    let listed = engine.list_containers().await.expect("list");
    let mine = listed.iter().find(|c| c.id == started.container_id).expect("listed");
    assert_eq!((mine.name.as_str(), mine.state.state), (id.as_str(), ContainerState::Exited));
    assert_eq!(mine.labels.get("team").map(String::as_str), Some("ci"));
    assert_eq!(mine.labels.get(MANAGED_LABEL).map(String::as_str), Some("true"));
}

#[tokio::test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn prune_removes_only_finished_services_of_the_library() {
    let _alone = EXCLUSIVE.write().await;
    let engine = engine(false).await;
    let (done, running, foreign) = (Service::new("prune-done"), Service::new("prune-running"), Service::new("prune-foreign"));
    run(&engine, shell(&done, "true")).await;
    bounded("start", engine.start_container(shell(&running, "sleep 30"))).await.expect("start");
    manager_cli(&["service", "create", "-d", "-q", "--name", &foreign, "--mode", "replicated-job", "--restart-condition", "none", "--no-resolve-image", &bed().image, "true"]);
    let removed = bounded("prune", engine.prune()).await.expect("prune");
    assert!(removed >= 1, "{removed}");
    assert_eq!(engine.get_state(GetStateRequest { id: done.0.clone() }).await.unwrap_err().kind(), ErrorKind::NoSuchContainer);
    assert_eq!(engine.get_state(GetStateRequest { id: running.0.clone() }).await.unwrap().state, ContainerState::Running);
    assert!(!manager_cli(&["service", "ls", "-q", "--filter", &format!("name={}", foreign.0)]).is_empty(), "not ours: kept");
}

#[test]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
fn the_blocking_face_runs_a_task_on_the_swarm() {
    let engine = BlockingEngine::connect(options(true)).expect("connect");
    assert_eq!(engine.engine_type(), EngineType::Swarm);
    let id = Service::new("blocking");
    let started = engine.start_container(shell(&id, "echo one; sleep 1; echo two; exit 4")).expect("start");
    assert!(started.image_id.starts_with("sha256:"), "{started:?}");
    let reader = engine.get_logs(GetLogsRequest { id: id.0.clone() }).expect("logs");
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&text), "one\ntwo\n");
    let state = engine.wait_container(WaitContainerRequest { id: id.0.clone() }).expect("wait");
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 4));
    assert!(engine.list_containers().expect("list").iter().any(|c| c.name == id.0));
}
