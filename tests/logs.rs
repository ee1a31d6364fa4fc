//! GetLogs: following, exited containers, stderr, framing, no-newline output, early close.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use gofer_scheduler::*;

fn logs_req(id: &str) -> GetLogsRequest {
    GetLogsRequest { id: id.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_followed_from_before_the_first_line_get_every_line_then_end() {
    let engine = engine().await;
    let name = Name::new("follow");
    let script = "sleep 1; echo one; sleep 0.5; echo two; sleep 0.5; echo three";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    let logs = bounded("get_logs", engine.get_logs(logs_req(&name))).await.unwrap();
    let all = read_all(logs).await.unwrap();
    assert_eq!(all, b"one\ntwo\nthree\n");
    let state = bounded("state", engine.get_state(GetStateRequest { id: name.0.clone() })).await.unwrap();
    assert_eq!(state.state, ContainerState::Exited, "the stream ends when the container exits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_an_exited_container_are_all_its_output_then_end() {
    let engine = engine().await;
    let name = Name::new("exited");
    bounded("start", engine.start_container(shell(&name, "seq 1 1000"))).await.unwrap();
    wait_exit(&engine, &name).await;
    let all = read_all(bounded("get_logs", engine.get_logs(logs_req(&name))).await.unwrap()).await.unwrap();
    let expected: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8(all).unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_is_merged_in_order_with_stdout() {
    let engine = engine().await;
    let name = Name::new("stderr");
    let script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; echo err2 >&2";
    let (_, logs) = run(&engine, shell(&name, script)).await;
    assert_eq!(logs, "out1\nerr1\nout2\nerr2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_with_no_newline_at_all_is_delivered_whole() {
    let engine = engine().await;
    let short = Name::new("nonl-short");
    let (_, logs) = run(&engine, shell(&short, "printf abc")).await;
    assert_eq!(logs, "abc");
    // The engine splits long lines into 16 KiB messages; none of that may show.
    let long = Name::new("nonl-long");
    let (_, logs) = run(&engine, shell(&long, "head -c 100000 /dev/zero | tr '\\0' x")).await;
    assert_eq!(logs.len(), 100_000);
    assert!(logs.bytes().all(|b| b == b'x'));
}

/// Every ASCII byte, including those a frame header starts with (0, 1, 2), comes through
/// exactly. Bytes that are not UTF-8 are stored by the engine's json-file log driver as U+FFFD,
/// so for those the reference is what `docker logs` itself returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_output_comes_through_as_the_engine_stored_it() {
    let engine = engine().await;
    let name = Name::new("binary");
    let script = "i=0; while [ $i -lt 256 ]; do printf \"\\\\$(printf %o $i)\"; i=$((i+1)); done";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    wait_exit(&engine, &name).await;
    let all = read_all(bounded("get_logs", engine.get_logs(logs_req(&name))).await.unwrap()).await.unwrap();
    let ascii: Vec<u8> = (0..128u8).collect();
    assert_eq!(&all[..128], &ascii[..]);
    let cli = std::process::Command::new("docker").args(["logs", &name]).output().unwrap().stdout;
    assert_eq!(all, cli, "same bytes as `docker logs`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_log_stream_early_does_not_disturb_the_container() {
    let engine = engine().await;
    let name = Name::new("early");
    bounded("start", engine.start_container(shell(&name, "yes gofer"))).await.unwrap();
    let mut logs = bounded("get_logs", engine.get_logs(logs_req(&name))).await.unwrap();
    let mut read = 0;
    while read < 1 << 20 {
        read += bounded("read", logs.next()).await.unwrap().unwrap().len();
    }
    drop(logs);
    let state = bounded("state", engine.get_state(GetStateRequest { id: name.0.clone() })).await.unwrap();
    assert_eq!(state.state, ContainerState::Running);
    // A second reader starts from the beginning again.
    let mut again = bounded("get_logs", engine.get_logs(logs_req(&name))).await.unwrap();
    let first = bounded("read", again.next()).await.unwrap().unwrap();
    assert!(first.starts_with(b"gofer\n"));
}

#[test]
fn blocking_reader_fills_the_buffer_and_reports_the_end_as_zero() {
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("blocking");
    let mut req = shell(&name, "seq 1 20000");
    req.id = name.0.clone();
    engine.start_container(req).unwrap();
    let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 7]; // smaller than most frames: exercises the remainder path
    let mut reads = 0;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        reads += 1;
        if reads == 10 {
            buf = vec![0u8; 64 * 1024]; // larger than a frame: exercises batching
        }
    }
    let expected: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8(all).unwrap(), expected);
    assert_eq!(reader.read(&mut buf).unwrap(), 0, "the end stays the end");
}

/// The blocking reader decodes the engine's answer itself: lines the engine split into 16 KiB
/// messages, stderr frames and a last line without a newline all come through exactly.
#[test]
fn blocking_reader_delivers_split_long_lines_and_both_streams_exactly() {
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("blocking-long");
    let script = "head -c 100000 /dev/zero | tr '\\0' x; echo; sleep 0.2; echo err >&2; sleep 0.2; printf end";
    engine.start_container(shell(&name, script)).unwrap();
    let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 5000];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    let mut expected = vec![b'x'; 100_000];
    expected.extend_from_slice(b"\nerr\nend");
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "the bytes differ from the container's output");
}

/// Reads of a busy stream are spaced out to take many lines at once (src/docker/logs/reader.rs);
/// a line that follows a quiet spell must still be handed over alone, as soon as it arrives,
/// not held back for company. Both ways of reading: blocking (C, Go) and in slices (Python).
#[test]
fn blocking_reader_hands_over_a_line_after_a_quiet_spell_without_waiting_for_more() {
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("quiet-lines");
    let script = "seq 1 3000; sleep 2; echo two; sleep 2; echo three";
    engine.start_container(shell(&name, script)).unwrap();
    let blocking = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let sliced = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let burst: String = (1..=3000).map(|i| format!("{i}\n")).collect();
    let mut buf = vec![0u8; 64 * 1024];

    // The burst, in as many reads as it takes.
    let mut got = Vec::new();
    while got.len() < burst.len() {
        let n = blocking.read(&mut buf).unwrap();
        assert!(n > 0, "end of stream inside the burst");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), burst);
    // Then each later line alone: a reader that waited for more would return "two\nthree\n".
    for line in ["two\n", "three\n"] {
        let n = blocking.read(&mut buf).unwrap();
        assert_eq!(String::from_utf8_lossy(&buf[..n]), line);
    }
    assert_eq!(blocking.read(&mut buf).unwrap(), 0);

    // The same through 100 ms slices, as the Python binding reads.
    let mut all = Vec::new();
    loop {
        match sliced.read_timeout(&mut buf, Duration::from_millis(100)).unwrap() {
            None => continue,
            Some(0) => break,
            Some(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(String::from_utf8_lossy(&all), format!("{burst}two\nthree\n"));
}

#[test]
fn closing_a_blocking_reader_from_another_thread_wakes_the_blocked_read() {
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("wake");
    engine.start_container(shell(&name, "sleep 300")).unwrap();
    let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let closer = reader.closer();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        closer.close();
    });
    let started = std::time::Instant::now();
    let err = reader.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    t.join().unwrap();
    assert_eq!(reader.read(&mut [0u8; 16]).unwrap_err().kind(), ErrorKind::InvalidState, "read after close");
}

/// A TCP proxy to the engine's socket whose connections the test can cut, to break a stream
/// in the middle the way a dying daemon or network would.
struct CuttableProxy {
    address: String,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CuttableProxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("tcp://{}", listener.local_addr().unwrap());
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    let mut engine = tokio::net::UnixStream::connect(engine_socket()).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                });
                registry.lock().unwrap().push(task.abort_handle());
            }
        });
        CuttableProxy { address, connections }
    }

    fn cut(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_broken_midway_is_an_error_on_every_later_read_never_an_end() {
    let proxy = CuttableProxy::start().await;
    let options = DockerOptions { host: Some(proxy.address.clone()), timeout: Duration::from_secs(30), ..Default::default() };
    let name = Name::new("broken");
    let script = "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done";
    let req = shell(&name, script);
    let id = name.0.clone();
    tokio::task::spawn_blocking(move || {
        let engine = BlockingEngine::connect(options).unwrap();
        engine.start_container(req).unwrap();
        let reader = engine.get_logs(GetLogsRequest { id }).unwrap();
        let mut buf = [0u8; 4096];
        assert!(reader.read(&mut buf).unwrap() > 0);
        proxy.cut();
        let first_error = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("a broken stream must not look like the end of the logs"),
                Ok(_) => continue, // bytes that were already on their way
                Err(e) => break e,
            }
        };
        assert_eq!(first_error.kind(), ErrorKind::Connection, "{first_error}");
        let again = reader.read(&mut buf).expect_err("the failure is reported again, not turned into an end");
        assert_eq!(again.kind(), ErrorKind::Connection);
    })
    .await
    .unwrap();
}
