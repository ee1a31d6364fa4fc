//! The readiness face: log reads and waits that never block, driven by one poll(2) loop on the
//! handles' descriptors, against the real engine.

mod common;

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use common::*;
use gofer_scheduler::*;

fn blocking_engine() -> BlockingEngine {
    BlockingEngine::connect(DockerOptions { timeout: Duration::from_secs(30), ..Default::default() }).expect("the test bed's engine answers")
}

/// Waits until `fd` is readable, at most `STEP`-like 60 s; false on timeout.
fn readable(fd: RawFd, within: Duration) -> bool {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut poll, 1, within.as_millis() as i32) == 1 }
}

/// Several logs and waits at once, each answered when its descriptor says so: every byte of
/// every log arrives, each stream tagged, and every wait gives its container's exit code.
#[test]
fn one_poll_loop_reads_several_logs_and_waits_to_their_ends() {
    let engine = blocking_engine();
    let names: Vec<Name> = (0..4).map(|i| Name::new(&format!("ready{i}"))).collect();
    let mut expected = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let script = format!("for n in 1 2 3 4 5; do echo out-{i}-$n; echo err-{i}-$n >&2; sleep 0.1; done; exit {i}");
        engine.start_container(shell(name, &script)).expect("start");
        let out: String = (1..=5).map(|n| format!("out-{i}-{n}\n")).collect();
        let err: String = (1..=5).map(|n| format!("err-{i}-{n}\n")).collect();
        expected.push((out, err));
    }
    let logs: Vec<ReadyLogs> = names.iter().map(|n| engine.get_logs_ready(GetLogsRequest { id: n.0.clone() }).unwrap()).collect();
    let waits: Vec<ReadyWait> = names.iter().map(|n| engine.wait_ready(WaitContainerRequest { id: n.0.clone() }).unwrap()).collect();

    let mut got = vec![(String::new(), String::new()); names.len()];
    let mut ended = vec![false; names.len()];
    let mut codes = vec![None; names.len()];
    let mut would_block = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 7]; // small on purpose: frames are taken in pieces
    while (ended.iter().any(|e| !e) || codes.iter().any(Option::is_none)) && Instant::now() < deadline {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        for i in 0..names.len() {
            loop {
                if ended[i] {
                    break;
                }
                match logs[i].try_read(&mut buf).expect("read") {
                    None => {
                        would_block += 1;
                        fds.push(libc::pollfd { fd: logs[i].raw_fd(), events: libc::POLLIN, revents: 0 });
                        break;
                    }
                    Some((0, _)) => ended[i] = true,
                    Some((n, LogSource::Stdout)) => got[i].0.push_str(std::str::from_utf8(&buf[..n]).unwrap()),
                    Some((n, LogSource::Stderr)) => got[i].1.push_str(std::str::from_utf8(&buf[..n]).unwrap()),
                }
            }
            match waits[i].try_result().expect("wait") {
                Some(state) => codes[i] = Some((state.state, state.exit_code)),
                None => fds.push(libc::pollfd { fd: waits[i].raw_fd(), events: libc::POLLIN, revents: 0 }),
            }
        }
        if !fds.is_empty() {
            // SAFETY: a live array of pollfds.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5000) };
        }
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(got[i], expected[i], "{}", name.0);
        assert_eq!(codes[i], Some((ContainerState::Exited, i as i64)), "{}", name.0);
        assert_eq!(logs[i].try_read(&mut buf).unwrap(), Some((0, LogSource::Stdout)), "the end stays the end");
    }
    assert!(would_block > 0, "the containers write slowly: some reads found nothing yet");
}

#[test]
fn an_unknown_container_is_reported_by_the_opening_and_the_read() {
    let engine = blocking_engine();
    let logs = engine.get_logs_ready(GetLogsRequest { id: "gofer-test-no-such-container-ready".into() }).expect("returns at once");
    assert!(readable(logs.raw_fd(), Duration::from_secs(30)), "the failed opening makes the descriptor readable");
    assert_eq!(logs.try_open().unwrap_err().kind(), ErrorKind::NoSuchContainer);
    assert_eq!(logs.try_read(&mut [0u8; 16]).unwrap_err().kind(), ErrorKind::NoSuchContainer);
    let wait = engine.wait_ready(WaitContainerRequest { id: "gofer-test-no-such-container-ready".into() }).unwrap();
    assert!(readable(wait.raw_fd(), Duration::from_secs(30)));
    assert_eq!(wait.try_result().unwrap_err().kind(), ErrorKind::NoSuchContainer);
}

/// A close from another thread ends a blocked read and a blocked wait; the descriptor is not
/// readable while nothing is there.
#[test]
fn close_ends_blocked_reads_and_waits() {
    let engine = blocking_engine();
    let name = Name::new("ready-close");
    engine.start_container(shell(&name, "echo first; sleep 300")).unwrap();
    let logs = engine.get_logs_ready(GetLogsRequest { id: name.0.clone() }).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(logs.read(&mut buf).unwrap(), (6, LogSource::Stdout));
    assert_eq!(&buf[..6], b"first\n");
    assert_eq!(logs.try_read(&mut buf).unwrap(), None);
    assert!(!readable(logs.raw_fd(), Duration::from_millis(300)), "nothing to take: not readable");
    let wait = engine.wait_ready(WaitContainerRequest { id: name.0.clone() }).unwrap();
    assert_eq!(wait.try_result().unwrap(), None);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            logs.close();
            wait.close();
        });
        assert_eq!(logs.read(&mut buf).unwrap_err().kind(), ErrorKind::InvalidState);
        assert_eq!(wait.result().unwrap_err().kind(), ErrorKind::InvalidState);
    });
    remove_container(&name);
}

/// The task reads at most a bounded amount ahead of a reader that does not read: a container
/// that writes 8 MiB at once does not fill the process's memory.
#[test]
fn a_reader_that_does_not_read_holds_the_task_back() {
    let engine = blocking_engine();
    let name = Name::new("ready-ahead");
    engine.start_container(shell(&name, "head -c 8388608 /dev/zero | tr '\\0' x; sleep 300")).unwrap();
    let logs = engine.get_logs_ready(GetLogsRequest { id: name.0.clone() }).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // A snapshot, not a drain: a drain races the task, which refills as soon as there is room.
    let ahead = logs.buffered();
    assert!(ahead > 0 && ahead <= 320 * 1024, "{ahead} bytes were read ahead");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(logs.buffered(), ahead, "the task went on reading while nobody read");
    // And the rest still comes, all of it.
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    while total < 8 << 20 {
        let (n, _) = logs.read(&mut buf).unwrap();
        assert!(n > 0 && buf[..n].iter().all(|b| *b == b'x'));
        total += n;
    }
    assert_eq!(total, 8 << 20);
    remove_container(&name);
}
