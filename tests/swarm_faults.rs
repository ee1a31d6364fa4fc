//! The swarm engine when the swarm breaks (`scripts/swarm.sh up`): a worker's dockerd killed
//! while its task runs is reported by GetState, the wait and the log reader within the request
//! timeout, and nothing hangs; the manager's dockerd restarted, the same engine handle works
//! again. One test at a time (each breaks the swarm for all), each repairing what it broke.
//! Ignored by a plain `cargo test`: `scripts/test-swarm.sh` runs them with `--ignored`.

mod common;
mod swarm_bed;

use std::time::{Duration, Instant};

use common::{bounded, read_all};
use gofer_scheduler::*;
use swarm_bed::*;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Starts the node again and waits for the swarm to see every node ready, also when the test
/// fails: the next tests need the whole swarm.
struct Revive(String);

impl Drop for Revive {
    fn drop(&mut self) {
        netns_engine(&self.0, "start");
        wait_all_ready();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn a_killed_worker_is_reported_by_state_wait_and_logs_within_the_request_timeout() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let engine = bounded("connect", SwarmEngine::connect(options(true))).await.expect("connect");
    // Tasks until one runs on a worker (the swarm spreads them).
    let mut services = Vec::new();
    let (victim, worker) = loop {
        assert!(services.len() < 9, "no task landed on a worker");
        let id = Service::new("lost");
        bounded("start", engine.start_container(shell(&id, "while :; do echo tick; sleep 0.2; done"))).await.expect("start");
        if let Some(worker) = worker_named(&node_addr_of(&id)) {
            break (id.0.clone(), { services.push(id); worker });
        }
        services.push(id);
    };
    let logs = bounded("get_logs", engine.get_logs(GetLogsRequest { id: victim.clone() })).await.expect("get_logs");
    // The blocking face's reader, on a thread of its own (as C, Go and Python read).
    let (opened, is_open) = std::sync::mpsc::channel();
    let blocking_read = {
        let id = victim.clone();
        std::thread::spawn(move || {
            let blocking = BlockingEngine::connect(options(false))?;
            let reader = blocking.get_logs(GetLogsRequest { id })?;
            let _ = opened.send(());
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
    };
    is_open.recv_timeout(Duration::from_secs(30)).expect("the blocking reader opened the log");
    let waiting = {
        let engine = engine.clone();
        let id = victim.clone();
        tokio::spawn(async move { engine.wait_container(WaitContainerRequest { id }).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let killed = Instant::now();
    netns_engine(&worker, "kill");
    let _revive = Revive(worker.clone());
    let limit = TIMEOUT + Duration::from_secs(5);
    let state_error = bounded("state", async {
        loop {
            match engine.get_state(GetStateRequest { id: victim.clone() }).await {
                Ok(state) if state.state == ContainerState::Running => tokio::time::sleep(Duration::from_millis(200)).await,
                other => return other,
            }
        }
    })
    .await
    .expect_err("the lost node is an error");
    let reported = killed.elapsed();
    eprintln!("the lost worker: GetState reported it {reported:?} after the kill: {state_error}");
    assert_eq!(state_error.kind(), ErrorKind::Connection, "{state_error}");
    assert!(state_error.message().contains("down"), "{state_error}");
    assert!(reported < TIMEOUT, "GetState reported it after {reported:?}");

    let wait_error = bounded("wait", waiting).await.expect("the wait task").expect_err("the wait ends with the loss");
    assert_eq!(wait_error.kind(), ErrorKind::Connection, "{wait_error}");
    let log_error = bounded("async logs", read_all(logs)).await.expect_err("a lost log is an error, never an end");
    assert_eq!(log_error.kind(), ErrorKind::Connection, "{log_error}");
    let blocking_error = tokio::task::spawn_blocking(move || blocking_read.join().expect("the reader thread")).await.unwrap();
    let blocking_error = blocking_error.expect_err("the blocking reader reports it");
    assert_eq!(blocking_error.kind(), ErrorKind::Connection, "{blocking_error}");
    eprintln!("the lost worker: the wait and both log readers too, {:?} after the kill", killed.elapsed());
    assert!(killed.elapsed() < limit, "everything reported within {limit:?}: {:?}", killed.elapsed());
    drop(services);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn the_same_handle_works_again_after_the_manager_restarts() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let engine = bounded("connect", SwarmEngine::connect(options(true))).await.expect("connect");
    let before = Service::new("restart-before");
    bounded("start", engine.start_container(shell(&before, "sleep 5; echo survived"))).await.expect("start");
    let waiting = {
        let engine = engine.clone();
        let id = before.0.clone();
        tokio::spawn(async move { engine.wait_container(WaitContainerRequest { id }).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let manager = "swarm1";
    netns_engine(manager, "kill");
    let revive = Revive(manager.into());
    drop(revive); // started again; every node ready
    // A wait in flight is not ended by the restart: it answers the task's end.
    let state = bounded("wait across the restart", waiting).await.expect("the wait task").expect("the wait's answer");
    assert!(matches!(state.state, ContainerState::Exited | ContainerState::Cancelled), "{state:?}");

    let after = Service::new("restart-after");
    let started = bounded("start after the restart", engine.start_container(shell(&after, "echo again; exit 2"))).await.expect("start");
    assert!(!started.container_id.is_empty());
    let state = bounded("wait", engine.wait_container(WaitContainerRequest { id: after.0.clone() })).await.expect("wait");
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 2));
    let logs = read_all(bounded("logs", engine.get_logs(GetLogsRequest { id: after.0.clone() })).await.expect("logs")).await.expect("read");
    assert_eq!(String::from_utf8_lossy(&logs), "again\n");
    assert!(engine.list_containers().await.expect("list").iter().any(|c| c.name == after.0));
}

/// Makes every node active again, also when the test fails.
struct Undrain(Vec<String>);

impl Drop for Undrain {
    fn drop(&mut self) {
        for node in &self.0 {
            let _ = docker_at(&swarm_bed().manager, &["node", "update", "--availability", "active", node]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test swarm: scripts/test-swarm.sh runs it"]
async fn a_task_no_node_can_take_is_a_timeout_with_the_swarm_s_reason_and_is_removed() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut options = options(false);
    options.manager.timeout = Duration::from_secs(3);
    let engine = bounded("connect", SwarmEngine::connect(options)).await.expect("connect");
    let nodes: Vec<String> = manager_cli(&["node", "ls", "-q"]).lines().map(String::from).collect();
    let _undrain = Undrain(nodes.clone());
    for node in &nodes {
        manager_cli(&["node", "update", "--availability", "drain", node]);
    }
    let id = Service::new("unplaced");
    let asked = Instant::now();
    let e = bounded("start", engine.start_container(shell(&id, "true"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("pending") && e.message().contains("no suitable node"), "the swarm's reason: {e}");
    assert!(asked.elapsed() < Duration::from_secs(10), "{:?}", asked.elapsed());
    let gone = engine.get_state(GetStateRequest { id: id.0.clone() }).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NoSuchContainer, "nothing left behind: {gone}");
}
