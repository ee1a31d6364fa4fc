//! AttachContainer: a TTY exec bridged to a socket the caller reads and writes.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use gofer_scheduler::*;

/// The session's socket as a std stream (a duplicate: the session keeps its own).
fn socket(session: &AttachSession) -> UnixStream {
    let fd = session.fd().try_clone_to_owned().unwrap();
    let stream = UnixStream::from(fd);
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    stream
}

/// Reads until `want` has been seen (or fails after 20 s); returns everything read.
fn read_until(stream: &mut UnixStream, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(want) {
        assert!(Instant::now() < deadline, "never saw {want:?}; got {:?}", String::from_utf8_lossy(&seen));
        match stream.read(&mut buf) {
            Ok(0) => panic!("end of stream before {want:?}; got {:?}", String::from_utf8_lossy(&seen)),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

fn read_to_end(stream: &mut UnixStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("end of stream within 20 s");
    String::from_utf8_lossy(&out).into_owned()
}

async fn sleeper(engine: &DockerEngine, test: &str) -> Name {
    let name = Name::new(test);
    bounded("start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    name
}

fn attach_req(id: &str, command: &[&str]) -> AttachContainerRequest {
    AttachContainerRequest { id: id.into(), command: command.iter().map(|s| s.to_string()).collect() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_runs_cat_and_echoes_a_line_back() {
    let engine = engine().await;
    let name = sleeper(&engine, "cat").await;
    let session = bounded("attach", engine.attach_container(attach_req(&name, &["cat"]))).await.unwrap();
    let mut conn = socket(&session);
    conn.write_all(b"hello gofer\n").unwrap();
    // The TTY echoes the input, then cat writes it back: the line appears twice.
    let seen = tokio::task::spawn_blocking(move || read_until(&mut conn, "hello gofer\r\nhello gofer\r\n"))
        .await
        .unwrap();
    assert!(seen.starts_with("hello gofer"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_shows_a_shell_prompt_that_has_no_trailing_newline() {
    let engine = engine().await;
    let name = sleeper(&engine, "prompt").await;
    let session = bounded("attach", engine.attach_container(attach_req(&name, &["sh"]))).await.unwrap();
    let mut conn = socket(&session);
    let prompt = tokio::task::spawn_blocking(move || read_until(&mut conn, "# ")).await.unwrap();
    // busybox prints a banner first, and may follow the prompt with a cursor query (ESC [6n);
    // what matters is that the last line, with no newline after it, has arrived.
    let last_line = prompt.rsplit('\n').next().unwrap();
    assert!(last_line.starts_with("/ # "), "the prompt arrives without waiting for a newline: {prompt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_sends_commands_to_a_shell_and_ends_when_it_exits() {
    let engine = engine().await;
    let name = sleeper(&engine, "shell").await;
    let session = bounded("attach", engine.attach_container(attach_req(&name, &["sh"]))).await.unwrap();
    let mut conn = socket(&session);
    let output = tokio::task::spawn_blocking(move || {
        read_until(&mut conn, "# ");
        conn.write_all(b"echo $((6*7)); exit 4\n").unwrap();
        read_to_end(&mut conn)
    })
    .await
    .unwrap();
    assert!(output.contains("42\r\n"), "{output:?}");
    let code = bounded("exit code", async {
        loop {
            if let Some(code) = session.exit_code().await.unwrap() {
                return code;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_ends_when_the_process_exits() {
    let engine = engine().await;
    let name = sleeper(&engine, "ends").await;
    let session =
        bounded("attach", engine.attach_container(attach_req(&name, &["sh", "-c", "echo done"]))).await.unwrap();
    let mut conn = socket(&session);
    let output = tokio::task::spawn_blocking(move || read_to_end(&mut conn)).await.unwrap();
    assert_eq!(output, "done\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_to_a_stopped_container_is_a_clear_error() {
    let engine = engine().await;
    let name = Name::new("stopped");
    run(&engine, shell(&name, "true")).await;
    let err = bounded("attach", engine.attach_container(attach_req(&name, &["sh"]))).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::ContainerNotRunning, "{err}");
    assert!(err.to_string().contains("not running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_session_ends_the_stream_for_the_caller() {
    let engine = engine().await;
    let name = sleeper(&engine, "close").await;
    let session = bounded("attach", engine.attach_container(attach_req(&name, &["cat"]))).await.unwrap();
    let mut conn = socket(&session);
    session.close();
    let rest = tokio::task::spawn_blocking(move || read_to_end(&mut conn)).await.unwrap();
    assert_eq!(rest, "");
    let _ = session.fd().as_fd();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizing_the_tty_is_seen_by_the_process() {
    let engine = engine().await;
    let name = sleeper(&engine, "resize").await;
    let session = bounded("attach", engine.attach_container(attach_req(&name, &["sh"]))).await.unwrap();
    let mut conn = socket(&session);
    let mut conn2 = conn.try_clone().unwrap();
    tokio::task::spawn_blocking(move || read_until(&mut conn2, "# ")).await.unwrap();
    bounded("resize", session.resize(123, 45)).await.unwrap();
    let out = tokio::task::spawn_blocking(move || {
        conn.write_all(b"stty size\n").unwrap();
        read_until(&mut conn, "45 123")
    })
    .await
    .unwrap();
    assert!(out.contains("45 123"), "{out:?}");
}

/// TTY output is raw: bytes that look like the start of a frame header (0x00-0x02) must come
/// through as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_output_that_starts_with_header_like_bytes_is_passed_through_exactly() {
    let engine = engine().await;
    let name = sleeper(&engine, "rawbytes").await;
    let command = ["sh", "-c", "printf '\\001\\002\\000after'"];
    let session = bounded("attach", engine.attach_container(attach_req(&name, &command))).await.unwrap();
    let mut conn = socket(&session);
    let output = tokio::task::spawn_blocking(move || {
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut out = Vec::new();
        conn.read_to_end(&mut out).expect("end of stream within 20 s");
        out
    })
    .await
    .unwrap();
    assert_eq!(output, b"\x01\x02\x00after");
}
