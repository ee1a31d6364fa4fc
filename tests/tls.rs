//! A remote engine over mutual TLS (docs/contract.md, "Engines"): a private dockerd in a network
//! namespace of its own, listening on tcp://<its address>:2376 with --tlsverify, certificates
//! from a throwaway CA (scripts/netns-engine.sh tls start --tls).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::bounded;
use futures_util::StreamExt;
use gofer_scheduler::*;

const IMAGE: &str = "gofer-test/busybox:latest";

/// The TLS engine's facts, from the script that starts it (once per test process).
struct TlsEngine {
    tcp: String,
    unix: String,
    certs: PathBuf,
}

fn tls_engine() -> &'static TlsEngine {
    static ENGINE: OnceLock<TlsEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/netns-engine.sh");
        let out = Command::new("timeout").args(["180", script, "tls", "start", "--tls"]).output().expect("the script runs");
        assert!(out.status.success(), "netns-engine.sh tls start: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        TlsEngine { tcp: vars["TCP"].to_owned(), unix: vars["HOST"].to_owned(), certs: PathBuf::from(vars["CERTS"]) }
    })
}

fn client_files() -> TlsFiles {
    TlsFiles::in_dir(&tls_engine().certs.join("client"))
}

fn options(tls: TlsFiles) -> DockerOptions {
    DockerOptions { host: Some(tls_engine().tcp.clone()), tls: Some(tls), timeout: Duration::from_secs(20), ..Default::default() }
}

/// A container name on the TLS engine, removed (through its unix socket) when dropped.
struct Name(String);

impl Name {
    fn new(test: &str) -> Self {
        Name(format!("gofer-test-tls-{test}-{}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Command::new("timeout").args(["30", "docker", "-H", &tls_engine().unix, "rm", "-fv", &self.0]).output();
    }
}

fn shell(name: &Name, script: &str) -> StartContainerRequest {
    let mut req = StartContainerRequest::new(name.0.clone(), IMAGE);
    req.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_works_over_tls_through_the_async_api() {
    let engine = bounded("connect", DockerEngine::connect(options(client_files()))).await.expect("TLS engine");
    let name = Name::new("async");
    let started = bounded("start", engine.start_container(shell(&name, "echo over tls; sleep 0.2; echo err >&2; exit 3"))).await.unwrap();
    assert_eq!(started.container_id.len(), 64);
    let waited = bounded("wait", engine.wait_container(WaitContainerRequest { id: name.0.clone() })).await.unwrap();
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Exited, 3));
    let state = bounded("state", engine.get_state(GetStateRequest { id: name.0.clone() })).await.unwrap();
    assert_eq!(state, waited);
    let mut logs = bounded("logs", engine.get_logs(GetLogsRequest { id: name.0.clone() })).await.unwrap();
    let mut all = Vec::new();
    while let Some(chunk) = bounded("read", logs.next()).await {
        all.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(all, b"over tls\nerr\n");
    let listed = bounded("list", engine.list_containers()).await.unwrap();
    assert!(listed.iter().any(|c| c.name == name.0));

    let sleeper = Name::new("async-sleeper");
    bounded("start", engine.start_container(shell(&sleeper, "sleep 300"))).await.unwrap();
    let session = bounded("attach", engine.attach_container(AttachContainerRequest { id: sleeper.0.clone(), command: vec!["cat".into()] }))
        .await
        .unwrap();
    let mut socket = UnixStream::from(session.fd().try_clone_to_owned().unwrap());
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(b"through the bridge\n").unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("through the bridge\r\nthrough the bridge") {
        let n = socket.read(&mut buf).expect("the echo comes back over TLS");
        assert!(n > 0, "end of stream before the echo");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(session);
    let stop = StopContainerRequest { id: sleeper.0.clone(), timeout: Duration::ZERO };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    let state = bounded("state", engine.get_state(GetStateRequest { id: sleeper.0.clone() })).await.unwrap();
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 137));
    assert!(bounded("prune", engine.prune()).await.unwrap() >= 2);
}

#[test]
fn every_operation_works_over_tls_through_the_blocking_face() {
    let engine = BlockingEngine::connect(options(client_files())).expect("TLS engine");
    let name = Name::new("blocking");
    engine.start_container(shell(&name, "echo blocking over tls; exit 4")).unwrap();
    let waited = engine.wait_container(WaitContainerRequest { id: name.0.clone() }).unwrap();
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Exited, 4));
    let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    assert_eq!(all, b"blocking over tls\n");
    // Many calls on the pooled TLS connections.
    for _ in 0..50 {
        assert_eq!(engine.get_state(GetStateRequest { id: name.0.clone() }).unwrap().exit_code, 4);
    }
    let sleeper = Name::new("blocking-sleeper");
    engine.start_container(shell(&sleeper, "sleep 300")).unwrap();
    let attachment = engine.attach_container(AttachContainerRequest { id: sleeper.0.clone(), command: vec!["sh".into()] }).unwrap();
    // SAFETY: the attachment owns the descriptor and outlives this borrow; a duplicate is read.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(attachment.raw_fd()) }.try_clone_to_owned().unwrap();
    let mut socket = UnixStream::from(fd);
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(b"echo bridged-$((6*7)); exit 9\n").unwrap();
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).contains("bridged-42"), "{}", String::from_utf8_lossy(&out));
    assert_eq!(attachment.exit_code().unwrap(), Some(9));
    engine.stop_container(StopContainerRequest { id: sleeper.0.clone(), timeout: Duration::ZERO }).unwrap();
}

#[test]
fn a_certificate_from_another_ca_is_not_trusted() {
    let mut files = client_files();
    files.ca = tls_engine().certs.join("wrong-ca/ca.pem");
    let err = BlockingEngine::connect(options(files)).err().expect("an untrusted engine");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("certificate was not trusted"), "{err}");
    assert!(err.to_string().contains("refused the TLS session"), "{err}");
    assert!(!err.to_string().contains("Start dockerd"), "a running engine is not to be started: {err}");
}

#[test]
fn without_a_client_certificate_the_engine_refuses_and_says_why() {
    let files = TlsFiles { ca: tls_engine().certs.join("client/ca.pem"), cert: None, key: None };
    let err = BlockingEngine::connect(options(files)).err().expect("refused without a client certificate");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("client certificate"), "{err}");
    assert!(!err.to_string().contains("Start dockerd"), "a running engine is not to be started: {err}");
}

#[test]
fn a_missing_or_unreadable_file_is_an_invalid_argument_naming_it() {
    let certs = &tls_engine().certs;
    let missing = TlsFiles { ca: certs.join("client/no-such-ca.pem"), ..client_files() };
    let err = BlockingEngine::connect(options(missing)).err().expect("no CA file");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().starts_with("tls.ca:") && err.message().contains("no-such-ca.pem"), "{err}");
    let not_a_key = TlsFiles { key: Some(certs.join("client/ca.pem")), ..client_files() };
    let err = BlockingEngine::connect(options(not_a_key)).err().expect("no key in that file");
    assert!(err.message().starts_with("tls.key:"), "{err}");
    let dir_as_cert = TlsFiles { cert: Some(certs.join("client")), ..client_files() };
    let err = BlockingEngine::connect(options(dir_as_cert)).err().expect("a directory is no certificate");
    assert!(err.message().starts_with("tls.cert:") && err.message().contains("cannot be read"), "{err}");
}

#[test]
fn no_key_material_appears_in_messages_or_debug_strings() {
    let certs = &tls_engine().certs;
    let key = std::fs::read_to_string(certs.join("client/key.pem")).unwrap();
    let secret_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut texts = vec![format!("{:?}", options(client_files())), format!("{:?}", client_files())];
    for files in [
        TlsFiles { ca: certs.join("client/key.pem"), ..client_files() }, // a key where the CA goes
        TlsFiles { cert: Some(certs.join("client/key.pem")), ..client_files() },
        TlsFiles { ca: certs.join("wrong-ca/ca.pem"), ..client_files() },
    ] {
        let err = BlockingEngine::connect(options(files)).err().expect("refused");
        texts.push(format!("{err} {err:?}"));
    }
    for text in &texts {
        for line in &secret_lines {
            assert!(!text.contains(line), "key material in: {text}");
        }
    }
}
