//! Shared pieces of the reliability suite (tests/faults.rs, tests/load.rs, tests/hostile.rs):
//! the quick and full profiles, the private engine the fault tests may kill, stand-in servers
//! that accept and never answer, process measurements (RSS, descriptors, threads), and the file
//! the measured figures are written to (docs/reliability.md quotes them).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which profile runs: quick (CI, the default) or full (`GOFER_RELIABILITY_FULL=1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Quick,
    Full,
}

pub fn profile() -> Profile {
    match std::env::var("GOFER_RELIABILITY_FULL").as_deref() {
        Ok("1") | Ok("true") | Ok("yes") => Profile::Full,
        _ => Profile::Quick,
    }
}

/// `quick` in the quick profile, `full` in the full one; an environment variable `var` (when
/// set to a number) overrides both, to size a run by hand.
pub fn sized(var: &str, quick: u64, full: u64) -> u64 {
    if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    match profile() {
        Profile::Quick => quick,
        Profile::Full => full,
    }
}

pub fn profile_name() -> &'static str {
    match profile() {
        Profile::Quick => "quick",
        Profile::Full => "full",
    }
}

/// Records a measured figure: printed, and appended to `target/reliability/figures.txt`, which
/// `scripts/test-reliability.sh` prints at the end of a run.
pub fn figure(test: &str, text: impl std::fmt::Display) {
    // GOFER_FIGURE_TAG marks a special build (the sanitizer run) in the figures.
    let tag = std::env::var("GOFER_FIGURE_TAG").map(|t| format!(", {t}")).unwrap_or_default();
    let line = format!("[{}{tag}] {test}: {text}", profile_name());
    eprintln!("FIGURE {line}");
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/reliability"));
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("figures.txt")) {
        let _ = writeln!(f, "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Process measurements

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// A field of /proc/self/status in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Waits up to `limit` for `value()` to drop to `target` or below; returns the last value.
pub fn settle(limit: Duration, target: usize, value: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let v = value();
        if v <= target || Instant::now() >= deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// The private engine (scripts/private-dockerd.sh)

pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/private-dockerd.sh");

/// Runs `scripts/private-dockerd.sh <command>` (bounded); panics when it fails.
pub fn private_dockerd(command: &str) -> String {
    let out = Command::new("timeout").args(["120", SCRIPT, command]).output().expect("scripts/private-dockerd.sh runs");
    assert!(
        out.status.success(),
        "private-dockerd.sh {command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Exclusive use of the private engine by one test at a time, across the threads of this
/// process and across processes (two `cargo test` runs at once): a process mutex, then an
/// flock on `target/faults/.suite.lock`. The engine is started (if needed) before returning,
/// and left running after the test.
pub struct PrivateEngine {
    pub host: String,
    /// Its network namespace (`/run/netns/...`): its dockerd reaches only that loopback.
    pub netns: String,
    _file: std::fs::File,
    _guard: std::sync::MutexGuard<'static, ()>,
}

static IN_PROCESS: Mutex<()> = Mutex::new(());

impl PrivateEngine {
    pub fn acquire() -> PrivateEngine {
        let guard = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/faults");
        std::fs::create_dir_all(dir).unwrap();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{dir}/.suite.lock"))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            // SAFETY: a valid descriptor owned by `file`.
            let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "another process held {dir}/.suite.lock for 15 minutes");
            std::thread::sleep(Duration::from_millis(200));
        }
        let host = private_dockerd("start");
        let netns = private_dockerd("netns");
        let engine = PrivateEngine { host, netns, _file: file, _guard: guard };
        // Containers left by an earlier test that failed half-way: this engine is ours alone.
        let leftovers = engine.cli(&["ps", "-aq"]);
        if !leftovers.is_empty() {
            let mut args = vec!["rm", "-fv"];
            args.extend(leftovers.lines());
            let _ = engine.cli_output(&args);
        }
        engine
    }

    /// `docker -H <private engine> args...` (bounded); panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_output(args);
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        Command::new("timeout").args(["60", "docker", "-H", &self.host]).args(args).output().expect("docker CLI runs")
    }

    pub fn kill(&self) {
        private_dockerd("kill");
    }

    pub fn start(&self) {
        private_dockerd("start");
    }

    pub fn stop(&self) {
        private_dockerd("stop");
    }

    pub fn freeze(&self) {
        private_dockerd("freeze");
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        // Whatever a test did (and however it failed), the next one finds a running engine: a
        // frozen one is thawed, a dead one started.
        let _ = Command::new("timeout").args(["120", SCRIPT, "thaw"]).output();
        let _ = Command::new("timeout").args(["120", SCRIPT, "start"]).output();
    }
}

/// A container name on the private engine, removed (`docker -H ... rm -f`) when dropped.
pub struct PrivateName {
    pub name: String,
    host: String,
}

impl PrivateName {
    pub fn new(engine: &PrivateEngine, test: &str) -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        PrivateName { name: format!("gofer-test-{test}-{}-{n}", std::process::id()), host: engine.host.clone() }
    }
}

impl std::ops::Deref for PrivateName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl Drop for PrivateName {
    fn drop(&mut self) {
        let _ = Command::new("timeout").args(["30", "docker", "-H", &self.host, "rm", "-fv", &self.name]).output();
    }
}

// ---------------------------------------------------------------------------------------------
// Stand-in servers

/// A TCP listener on 127.0.0.1 that accepts every connection and never answers: the model of
/// a wedged engine or registry. Accepted connections are held open until the listener drops.
pub struct SilentListener {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SilentListener {
    /// A listener on the host's loopback.
    pub fn start() -> SilentListener {
        Self::serve(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A listener on the loopback of the private engine's network namespace, where its dockerd
    /// reaches `address()` (a registry that never answers).
    pub fn start_beside(engine: &PrivateEngine) -> SilentListener {
        Self::serve(crate::common::in_netns(&engine.netns, || TcpListener::bind("127.0.0.1:0")).unwrap())
    }

    fn serve(listener: TcpListener) -> SilentListener {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        held.push(conn);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentListener { port, accepted, stop }
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a [`FakeEngine`] does with a request other than `/version` and `/_ping`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeMode {
    /// Reads the request and never answers.
    Silent,
    /// Answers 404 `{"message":"No such container"}` at once.
    NotFound,
    /// Knows one exited container (exit code 3), whatever its name: a container inspect answers
    /// it, and its logs are these bytes, sent as the engine's raw stream (framed or not: a
    /// hostile daemon). Anything else is a 404.
    Container { logs: Arc<Vec<u8>> },
}

/// The full ID the fake engine gives its one container.
pub const FAKE_CONTAINER_ID: &str = "f00d0000000000000000000000000000000000000000000000000000000000ff";

/// A minimal Docker Engine API over HTTP/1.1 on 127.0.0.1: it answers the version handshake
/// (API 1.41), so an engine can be created against it, and then does what its mode says.
pub struct FakeEngine {
    pub port: u16,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeEngine {
    pub fn start(mode: FakeMode) -> FakeEngine {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (r, s, mode) = (r.clone(), s.clone(), mode.clone());
                        std::thread::spawn(move || serve_fake(conn, mode, r, s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeEngine { port, requests, stop }
    }

    pub fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Requests received so far (the handshake included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_fake(conn: TcpStream, mode: FakeMode, requests: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    loop {
        // Request line and headers.
        let mut head = Vec::new();
        let mut content_length = 0usize;
        // A line cut by the read timeout stays in `line` and is completed by the next read.
        let mut line = String::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(_) => return,
            }
            if !line.ends_with('\n') {
                continue;
            }
            let complete = std::mem::take(&mut line);
            if complete == "\r\n" || complete == "\n" {
                break;
            }
            if let Some(v) = complete.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            head.push(complete);
        }
        let mut body = vec![0u8; content_length];
        let mut got = 0;
        while got < content_length {
            match reader.read(&mut body[got..]) {
                Ok(0) => return,
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let path = head.first().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("").to_owned();
        let route = path.split('?').next().unwrap_or("");
        let (status, content_type, body): (&str, &str, Vec<u8>) = if route.ends_with("/version") {
            (
                "200 OK",
                "application/json",
                br#"{"ApiVersion":"1.41","Version":"20.10.24-fake","MinAPIVersion":"1.12"}"#.to_vec(),
            )
        } else if route.ends_with("/_ping") {
            ("200 OK", "text/plain", b"OK".to_vec())
        } else {
            match &mode {
                FakeMode::Silent => {
                    // Hold the connection, never answer.
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    return;
                }
                FakeMode::Container { .. } if route.contains("/containers/") && route.ends_with("/json") => (
                    "200 OK",
                    "application/json",
                    format!(r#"{{"Id":"{FAKE_CONTAINER_ID}","State":{{"Status":"exited","ExitCode":3}}}}"#)
                        .into_bytes(),
                ),
                FakeMode::Container { logs } if route.ends_with(&format!("/containers/{FAKE_CONTAINER_ID}/logs")) => {
                    ("200 OK", "application/vnd.docker.raw-stream", logs.to_vec())
                }
                _ => ("404 Not Found", "application/json", br#"{"message":"No such container"}"#.to_vec()),
            }
        };
        let mut answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nApi-Version: 1.41\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The C ABI, called from Rust as a C program would

pub mod cabi {
    use std::ffi::{c_char, CStr, CString};
    use std::ptr;

    use gofer_scheduler::ffi::*;

    /// A failed call: its status and the message of its error object (which is freed).
    #[derive(Debug)]
    pub struct Failure {
        pub status: GoferStatus,
        pub message: String,
    }

    /// Converts a status and an error object (freed here) into a result.
    pub fn check(status: GoferStatus, err: *mut GoferError) -> Result<(), Failure> {
        let out = if status == GoferStatus::GOFER_OK {
            assert!(err.is_null(), "an error object on success");
            Ok(())
        } else {
            assert!(!err.is_null(), "no error object for {status:?}");
            // SAFETY: a live error object from the library.
            let message = unsafe { CStr::from_ptr(gofer_error_message(err)) }.to_string_lossy().into_owned();
            assert_eq!(gofer_error_status(err), status, "the error object disagrees with the status");
            Err(Failure { status, message })
        };
        gofer_error_free(err);
        out
    }

    /// An engine handle, freed on drop.
    pub struct Engine(pub *mut GoferEngine);
    unsafe impl Send for Engine {}
    unsafe impl Sync for Engine {}

    impl Engine {
        pub fn new(host: Option<&str>, timeout_ms: u64) -> Result<Engine, Failure> {
            let host = host.map(|h| CString::new(h).unwrap());
            let options = GoferEngineOptions {
                host: host.as_ref().map_or(ptr::null(), |h| h.as_ptr()),
                timeout_ms,
                prune: false,
                prune_interval_ms: 0,
                ..Default::default()
            };
            let mut engine = ptr::null_mut();
            let mut err = ptr::null_mut();
            check(gofer_engine_new(&options, &mut engine, &mut err), err)?;
            Ok(Engine(engine))
        }

        /// Starts `command` in `image` as `id`.
        pub fn start(&self, id: &str, image: &str, command: &[&str]) -> Result<(), Failure> {
            let id = CString::new(id).unwrap();
            let image = CString::new(image).unwrap();
            let args: Vec<CString> = command.iter().map(|a| CString::new(*a).unwrap()).collect();
            let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
            let request = GoferStartRequest {
                id: id.as_ptr(),
                image_name: image.as_ptr(),
                env_keys: ptr::null(),
                env_values: ptr::null(),
                env_count: 0,
                registry_user: ptr::null(),
                registry_pass: ptr::null(),
                always_pull: false,
                port: 0,
                entrypoint: ptr::null(),
                entrypoint_count: 0,
                command: argv.as_ptr(),
                command_count: argv.len(),
                ..GoferStartRequest::default()
            };
            let mut err = ptr::null_mut();
            check(gofer_engine_start_container(self.0, &request, ptr::null_mut(), &mut err), err)
        }

        pub fn state(&self, id: &str) -> Result<(GoferContainerState, i64), Failure> {
            let id = CString::new(id).unwrap();
            let mut state = GoferContainerState::GOFER_STATE_UNKNOWN;
            let mut code = 0i64;
            let mut err = ptr::null_mut();
            check(gofer_engine_get_state(self.0, id.as_ptr(), &mut state, &mut code, &mut err), err)?;
            Ok((state, code))
        }

        pub fn stop(&self, id: &str, timeout_ms: u64) -> Result<(), Failure> {
            let id = CString::new(id).unwrap();
            let mut err = ptr::null_mut();
            check(gofer_engine_stop_container(self.0, id.as_ptr(), timeout_ms, &mut err), err)
        }

        pub fn logs(&self, id: &str) -> Result<Logs, Failure> {
            let id = CString::new(id).unwrap();
            let mut logs = ptr::null_mut();
            let mut err = ptr::null_mut();
            check(gofer_engine_get_logs(self.0, id.as_ptr(), &mut logs, &mut err), err)?;
            Ok(Logs(logs))
        }

        pub fn attach(&self, id: &str, command: &[&str]) -> Result<Attach, Failure> {
            let id = CString::new(id).unwrap();
            let args: Vec<CString> = command.iter().map(|a| CString::new(*a).unwrap()).collect();
            let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
            let mut attach = ptr::null_mut();
            let mut err = ptr::null_mut();
            check(
                gofer_engine_attach_container(self.0, id.as_ptr(), argv.as_ptr(), argv.len(), &mut attach, &mut err),
                err,
            )?;
            Ok(Attach(attach))
        }
    }

    impl Drop for Engine {
        fn drop(&mut self) {
            gofer_engine_free(self.0);
        }
    }

    /// A log stream handle, freed on drop.
    pub struct Logs(pub *mut GoferLogs);
    unsafe impl Send for Logs {}
    unsafe impl Sync for Logs {}

    impl Logs {
        /// One `gofer_logs_read` into `buf`: the count (0 = end) or the failure.
        pub fn read(&self, buf: &mut [u8]) -> Result<usize, Failure> {
            let mut n = usize::MAX;
            let mut err = ptr::null_mut();
            check(gofer_logs_read(self.0, buf.as_mut_ptr(), buf.len(), &mut n, &mut err), err)?;
            assert!(n <= buf.len(), "read {n} bytes into a buffer of {}", buf.len());
            Ok(n)
        }

        pub fn close(&self) {
            gofer_logs_close(self.0);
        }
    }

    impl Drop for Logs {
        fn drop(&mut self) {
            gofer_logs_free(self.0);
        }
    }

    /// An attach session handle, freed on drop.
    pub struct Attach(pub *mut GoferAttach);
    unsafe impl Send for Attach {}
    unsafe impl Sync for Attach {}

    impl Attach {
        pub fn fd(&self) -> i32 {
            gofer_attach_fd(self.0)
        }

        pub fn exit_code(&self) -> Result<Option<i64>, Failure> {
            let mut exited = false;
            let mut code = 0i64;
            let mut err = ptr::null_mut();
            check(gofer_attach_exit_code(self.0, &mut exited, &mut code, &mut err), err)?;
            Ok(exited.then_some(code))
        }

        pub fn resize(&self, w: u16, h: u16) -> Result<(), Failure> {
            let mut err = ptr::null_mut();
            check(gofer_attach_resize(self.0, w, h, &mut err), err)
        }

        pub fn close(&self) {
            gofer_attach_close(self.0);
        }
    }

    impl Drop for Attach {
        fn drop(&mut self) {
            gofer_attach_free(self.0);
        }
    }
}

/// Reads a raw descriptor (borrowed) until end-of-stream, an error or `limit`: returns what was
/// read and how it ended (`Ok(())` = end-of-stream, `Err` = error or still open at the limit).
pub fn read_fd_until_end(fd: i32, limit: Duration) -> (Vec<u8>, Result<(), String>) {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (seen, Err(format!("still open after {limit:?}")));
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if ready <= 0 {
            continue;
        }
        // SAFETY: `buf` is writable for its length; `fd` is open (the caller's handle owns it).
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return (seen, Ok(())),
            n if n > 0 => seen.extend_from_slice(&buf[..n as usize]),
            _ => return (seen, Err(std::io::Error::last_os_error().to_string())),
        }
    }
}

/// Reads a raw descriptor until `want` appears (or `limit` passes); returns what was read.
pub fn read_fd_until(fd: i32, want: &[u8], limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(want.len()).any(|w| w == want) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "never saw {:?}; got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&seen)
        );
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) } <= 0 {
            continue;
        }
        // SAFETY: as above.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        assert!(n > 0, "end of stream before {:?}", String::from_utf8_lossy(want));
        seen.extend_from_slice(&buf[..n as usize]);
    }
    seen
}

pub fn write_fd(fd: i32, data: &[u8]) {
    // SAFETY: `data` is readable for its length.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize, "write to the session");
}
