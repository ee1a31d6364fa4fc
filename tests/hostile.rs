//! Hostile input: whatever a C caller passes, and whatever a daemon answers, the library answers
//! with a status code, in bounded time, without crashing; sizes at and past the limits give a
//! clear error or work; handle misuse that C can detect is a status; secrets stay secret.
//!
//! The property tests run against stand-in engines on 127.0.0.1 (tests/reliability), never the
//! shared daemon: random IDs must not stop or inspect anyone's containers. Their case count is
//! sized by the profile (GOFER_FUZZ_CASES overrides it).

mod common;
mod reliability;

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use gofer_scheduler::ffi::*;
use gofer_scheduler::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reliability::cabi;
use reliability::*;

/// The longest any call may take against the stand-in engines (their request timeout is 2 s).
const CALL_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Generated C arguments

/// A `const char *` argument: NULL, or bytes (then NUL-terminated; a NUL inside is what C sees
/// as an interior NUL, the string ends there).
type CArg = Option<Vec<u8>>;

fn c_arg() -> impl Strategy<Value = CArg> {
    prop_oneof![
        1 => Just(None),
        3 => "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,24}".prop_map(|s| Some(s.into_bytes())),
        3 => vec(any::<u8>(), 0..48).prop_map(Some),
        1 => vec(prop_oneof![Just(0xffu8), Just(0xc3), Just(0x80), Just(0xed), Just(b'a'), Just(b'='), Just(0)], 0..12)
            .prop_map(Some),
        1 => (1usize..=4).prop_map(|k| Some(vec![b'x'; k << 18])),
    ]
}

/// A `const char *const *` list with its count.
#[derive(Clone, Debug)]
enum CList {
    /// NULL with this count (0 means absent; any other count is an error).
    Null(usize),
    Items(Vec<CArg>),
    /// One real element, and a count too large to be believed (refused before reading).
    HugeCount(usize),
}

fn c_list() -> impl Strategy<Value = CList> {
    prop_oneof![
        2 => prop_oneof![Just(0usize), Just(1), Just(7), Just(usize::MAX)].prop_map(CList::Null),
        4 => vec(c_arg(), 0..6).prop_map(CList::Items),
        1 => prop_oneof![Just((1usize << 20) + 1), Just(1usize << 40), Just(usize::MAX)].prop_map(CList::HugeCount),
    ]
}

/// Owns the C strings and pointer arrays of one call.
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    arrays: Vec<Vec<*const c_char>>,
}

impl Arena {
    fn arg(&mut self, a: &CArg) -> *const c_char {
        match a {
            None => ptr::null(),
            Some(bytes) => {
                let cut = bytes.iter().position(|&b| b == 0).map_or(&bytes[..], |i| &bytes[..i]);
                self.strings.push(CString::new(cut).unwrap());
                self.strings.last().unwrap().as_ptr()
            }
        }
    }

    fn list(&mut self, l: &CList) -> (*const *const c_char, usize) {
        match l {
            CList::Null(count) => (ptr::null(), *count),
            CList::Items(items) => {
                let array: Vec<*const c_char> = items.iter().map(|a| self.arg(a)).collect();
                let count = array.len();
                self.arrays.push(array);
                (self.arrays.last().unwrap().as_ptr(), count)
            }
            CList::HugeCount(count) => {
                let array = vec![self.arg(&Some(b"sh".to_vec()))];
                self.arrays.push(array);
                (self.arrays.last().unwrap().as_ptr(), *count)
            }
        }
    }
}

#[derive(Clone, Debug)]
struct StartInput {
    id: CArg,
    image: CArg,
    env: EnvInput,
    user: CArg,
    pass: CArg,
    always_pull: bool,
    port: i64,
    entrypoint: CList,
    command: CList,
}

#[derive(Clone, Debug)]
enum EnvInput {
    Null(usize),
    Pairs(Vec<(CArg, CArg)>),
    KeysOnly(Vec<CArg>),
    ValuesOnly(Vec<CArg>),
}

fn start_input() -> impl Strategy<Value = StartInput> {
    let env = prop_oneof![
        prop_oneof![Just(0usize), Just(3)].prop_map(EnvInput::Null),
        vec((c_arg(), c_arg()), 0..5).prop_map(EnvInput::Pairs),
        vec(c_arg(), 1..3).prop_map(EnvInput::KeysOnly),
        vec(c_arg(), 1..3).prop_map(EnvInput::ValuesOnly),
    ];
    let port = prop_oneof![
        Just(0i64),
        Just(80),
        Just(65535),
        Just(65536),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>()
    ];
    (c_arg(), c_arg(), env, c_arg(), c_arg(), any::<bool>(), port, c_list(), c_list()).prop_map(
        |(id, image, env, user, pass, always_pull, port, entrypoint, command)| StartInput {
            id,
            image,
            env,
            user,
            pass,
            always_pull,
            port,
            entrypoint,
            command,
        },
    )
}

/// A status the header declares.
fn known(status: GoferStatus) -> bool {
    (0..=11).contains(&(status as i32))
}

/// Checks the contract of one call's outcome: a known status; on failure an error object (when
/// asked for) whose status agrees and whose message is non-empty; on success none.
fn check_outcome(what: &str, status: GoferStatus, err: *mut GoferError, took: Duration) -> Result<(), TestCaseError> {
    check_outcome_with(what, status, err, took, true)
}

/// [`check_outcome`] for a call whose `err_out` was `asked` (non-NULL) or not.
fn check_outcome_with(
    what: &str,
    status: GoferStatus,
    err: *mut GoferError,
    took: Duration,
    asked: bool,
) -> Result<(), TestCaseError> {
    prop_assert!(known(status), "{}: unknown status {}", what, status as i32);
    prop_assert!(took < CALL_BOUND, "{}: took {:?}", what, took);
    prop_assert_ne!(status, GoferStatus::GOFER_PANIC, "{}: a panic was caught: {}", what, message_of(err));
    prop_assert_ne!(status, GoferStatus::GOFER_INTERNAL, "{}: internal error: {}", what, message_of(err));
    if status == GoferStatus::GOFER_OK || !asked {
        prop_assert!(err.is_null(), "{}: error object on success or when none was asked for", what);
    } else {
        prop_assert!(!err.is_null(), "{}: no error object for {:?}", what, status);
        prop_assert_eq!(gofer_error_status(err), status);
        prop_assert!(!message_of(err).is_empty(), "{}: empty message", what);
    }
    gofer_error_free(err);
    Ok(())
}

fn message_of(err: *const GoferError) -> String {
    // SAFETY: NULL or a live error object; the message is a NUL-terminated string.
    unsafe { CStr::from_ptr(gofer_error_message(err)) }.to_string_lossy().into_owned()
}

/// A pointer value no library call may write: outputs are written only on success.
fn untouched<T>() -> *mut T {
    std::ptr::NonNull::<T>::dangling().as_ptr()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

struct Engines {
    _not_found: FakeEngine,
    _container: FakeEngine,
    not_found: cabi::Engine,
    container: cabi::Engine,
}

fn fake_engines() -> Engines {
    let not_found = FakeEngine::start(FakeMode::NotFound);
    let container = FakeEngine::start(FakeMode::Container { logs: Arc::new(b"\x01\0\0\0\0\0\0\x03hi\n".to_vec()) });
    Engines {
        not_found: cabi::Engine::new(Some(&not_found.host()), 2000).unwrap(),
        container: cabi::Engine::new(Some(&container.host()), 2000).unwrap(),
        _not_found: not_found,
        _container: container,
    }
}

#[derive(Clone, Copy, Debug)]
enum Which {
    Null,
    NotFound,
    Container,
}

fn which() -> impl Strategy<Value = Which> {
    prop_oneof![1 => Just(Which::Null), 3 => Just(Which::NotFound), 3 => Just(Which::Container)]
}

impl Engines {
    fn get(&self, w: Which) -> *const GoferEngine {
        match w {
            Which::Null => ptr::null(),
            Which::NotFound => self.not_found.0,
            Which::Container => self.container.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests over the C entry points

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn every_c_entry_point_answers_a_status_for_any_arguments() {
    let engines = fake_engines();
    let cases = sized("GOFER_FUZZ_CASES", 256, 4096) as u32;
    let started = Instant::now();
    let input = (which(), start_input(), c_arg(), any::<u64>(), c_list(), any::<u8>(), any::<i32>());
    runner(cases)
        .run(&input, |(w, start, id, timeout_ms, command, nulls, number)| {
            let engine = engines.get(w);
            let mut arena = Arena::default();
            // Each bit of `nulls` makes one out-parameter NULL.
            let null = |bit: u8| nulls & (1 << bit) != 0;

            // StartContainer
            let (env_keys, env_values, env_count) = match &start.env {
                EnvInput::Null(count) => (ptr::null(), ptr::null(), *count),
                EnvInput::Pairs(pairs) => {
                    let keys = CList::Items(pairs.iter().map(|p| p.0.clone()).collect());
                    let values = CList::Items(pairs.iter().map(|p| p.1.clone()).collect());
                    let (k, n) = arena.list(&keys);
                    let (v, _) = arena.list(&values);
                    (k, v, n)
                }
                EnvInput::KeysOnly(keys) => {
                    let (k, n) = arena.list(&CList::Items(keys.clone()));
                    (k, ptr::null(), n)
                }
                EnvInput::ValuesOnly(values) => {
                    let (v, n) = arena.list(&CList::Items(values.clone()));
                    (ptr::null(), v, n)
                }
            };
            let (entrypoint, entrypoint_count) = arena.list(&start.entrypoint);
            let (command_ptr, command_count) = arena.list(&start.command);
            let request = GoferStartRequest {
                id: arena.arg(&start.id),
                image_name: arena.arg(&start.image),
                env_keys,
                env_values,
                env_count,
                registry_user: arena.arg(&start.user),
                registry_pass: arena.arg(&start.pass),
                always_pull: start.always_pull,
                port: start.port,
                entrypoint,
                entrypoint_count,
                command: command_ptr,
                command_count,
                ..GoferStartRequest::default()
            };
            let request_ptr: *const GoferStartRequest = if null(0) { ptr::null() } else { &request };
            let mut url: *mut c_char = untouched();
            let url_out: *mut *mut c_char = if null(1) { ptr::null_mut() } else { &mut url };
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status = gofer_engine_start_container(engine, request_ptr, url_out, &mut err);
            check_outcome("start_container", status, err, t.elapsed())?;
            if status == GoferStatus::GOFER_OK && !url_out.is_null() {
                gofer_string_free(url);
            } else {
                prop_assert_eq!(url, untouched(), "url_out written on failure");
            }

            // StopContainer, GetState, GetLogs, AttachContainer, Prune
            let id_ptr = arena.arg(&id);
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status = gofer_engine_stop_container(
                engine,
                id_ptr,
                timeout_ms,
                if null(2) { ptr::null_mut() } else { &mut err },
            );
            check_outcome_with("stop_container", status, err, t.elapsed(), !null(2))?;

            let mut state: GoferContainerState = GoferContainerState::GOFER_STATE_PAUSED;
            let mut code: i64 = -12345;
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status = gofer_engine_get_state(
                engine,
                id_ptr,
                if null(3) { ptr::null_mut() } else { &mut state },
                if null(4) { ptr::null_mut() } else { &mut code },
                &mut err,
            );
            check_outcome("get_state", status, err, t.elapsed())?;
            if status == GoferStatus::GOFER_OK {
                prop_assert_eq!((state, code), (GoferContainerState::GOFER_STATE_EXITED, 3));
            } else {
                prop_assert_eq!((state, code), (GoferContainerState::GOFER_STATE_PAUSED, -12345), "written on failure");
            }

            let mut logs: *mut GoferLogs = untouched();
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status =
                gofer_engine_get_logs(engine, id_ptr, if null(5) { ptr::null_mut() } else { &mut logs }, &mut err);
            check_outcome("get_logs", status, err, t.elapsed())?;
            if status == GoferStatus::GOFER_OK {
                gofer_logs_free(logs);
            } else {
                prop_assert_eq!(logs, untouched(), "logs_out written on failure");
            }

            let (command_ptr, command_count) = arena.list(&command);
            let mut attach: *mut GoferAttach = untouched();
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status = gofer_engine_attach_container(
                engine,
                id_ptr,
                command_ptr,
                command_count,
                if null(6) { ptr::null_mut() } else { &mut attach },
                &mut err,
            );
            check_outcome("attach_container", status, err, t.elapsed())?;
            prop_assert_ne!(status, GoferStatus::GOFER_OK, "the stand-ins have no exec");
            prop_assert_eq!(attach, untouched(), "attach_out written on failure");

            let mut removed = 777usize;
            let mut err = ptr::null_mut();
            let t = Instant::now();
            let status = gofer_engine_prune(engine, if null(7) { ptr::null_mut() } else { &mut removed }, &mut err);
            check_outcome("prune", status, err, t.elapsed())?;
            prop_assert_eq!(removed, 777, "removed_out written on failure");

            // Functions of plain numbers: any value gives a static string.
            // SAFETY: both return static NUL-terminated strings.
            let status_name = unsafe { CStr::from_ptr(gofer_status_name(number)) };
            let state_name = unsafe { CStr::from_ptr(gofer_container_state_name(number)) };
            prop_assert!(!status_name.to_bytes().is_empty() && !state_name.to_bytes().is_empty());
            Ok(())
        })
        .unwrap();
    figure(
        "every_c_entry_point_answers_a_status_for_any_arguments",
        format!("{cases} generated cases x 8 entry points in {:.1?}: a known status every time, no panic, outputs untouched on failure", started.elapsed()),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn creating_an_engine_answers_a_status_for_any_options() {
    let fake = FakeEngine::start(FakeMode::NotFound);
    let cases = sized("GOFER_FUZZ_CASES", 256, 4096) as u32;
    // Hosts that reach nothing real: the stand-in, refused ports, missing sockets, garbage. NULL
    // (the default engine) is left out on purpose: a generated `prune` must never run on the
    // shared daemon.
    let host = prop_oneof![
        Just(Some(fake.host().into_bytes())),
        Just(Some(format!("http://127.0.0.1:{}", fake.port).into_bytes())),
        Just(Some(b"tcp://127.0.0.1:1".to_vec())),
        "[a-z0-9/_.]{0,30}".prop_map(|p| Some(format!("unix:///nonexistent/{p}").into_bytes())),
        vec(any::<u8>(), 0..40).prop_map(Some),
        Just(Some(b"ssh://example.invalid".to_vec())),
        Just(Some(vec![0xff, 0xfe])),
    ];
    let timeout = prop_oneof![Just(0u64), 1u64..3000, Just(u64::MAX)];
    let interval = prop_oneof![Just(0u64), 1u64..100_000, Just(u64::MAX)];
    let started = Instant::now();
    runner(cases)
        .run(
            &(host, timeout, any::<bool>(), interval, any::<u8>()),
            |(host, timeout_ms, prune, prune_interval_ms, nulls)| {
                let mut arena = Arena::default();
                let options =
                    GoferEngineOptions { host: arena.arg(&host), timeout_ms, prune, prune_interval_ms, ..Default::default() };
                // NULL options: the defaults (the default engine, no prune).
                let options_ptr: *const GoferEngineOptions = if nulls & 1 != 0 { ptr::null() } else { &options };
                let mut engine: *mut GoferEngine = untouched();
                let engine_out: *mut *mut GoferEngine = if nulls & 2 != 0 { ptr::null_mut() } else { &mut engine };
                let mut err = ptr::null_mut();
                let t = Instant::now();
                let status =
                    gofer_engine_new(options_ptr, engine_out, if nulls & 4 != 0 { ptr::null_mut() } else { &mut err });
                let took = t.elapsed();
                prop_assert!(known(status));
                prop_assert!(
                    !matches!(status, GoferStatus::GOFER_PANIC | GoferStatus::GOFER_INTERNAL),
                    "{}",
                    message_of(err)
                );
                // A huge timeout with a host that never answers would be a long wait; the hosts here
                // answer or refuse at once.
                prop_assert!(took < CALL_BOUND, "engine_new took {took:?}");
                if status == GoferStatus::GOFER_OK {
                    prop_assert!(!engine_out.is_null());
                    gofer_engine_free(engine);
                } else {
                    prop_assert_eq!(engine, untouched(), "engine_out written on failure");
                }
                gofer_error_free(err);
                Ok(())
            },
        )
        .unwrap();
    figure(
        "creating_an_engine_answers_a_status_for_any_options",
        format!("{cases} generated option sets in {:.1?}: a known status every time, no panic", started.elapsed()),
    );
}

/// One piece of what a hostile (or broken) daemon sends as a log stream.
#[derive(Clone, Debug)]
enum Chunk {
    /// A well-formed frame: stream type 0..=2, length, payload.
    Frame(u8, Vec<u8>),
    /// Raw bytes that may be anything.
    Garbage(Vec<u8>),
    /// A header that announces more bytes than follow.
    Lying(u8, u32, Vec<u8>),
}

fn chunk() -> impl Strategy<Value = Chunk> {
    prop_oneof![
        6 => (0u8..=2, vec(any::<u8>(), 0..300)).prop_map(|(s, p)| Chunk::Frame(s, p)),
        1 => (0u8..=2, Just(()), 1usize..=3).prop_map(|(s, _, k)| Chunk::Frame(s, vec![b'y'; k * 70_000])),
        1 => vec(any::<u8>(), 0..64).prop_map(Chunk::Garbage),
        1 => (0u8..=2, any::<u32>(), vec(any::<u8>(), 0..32)).prop_map(|(s, n, p)| Chunk::Lying(s, n, p)),
    ]
}

fn encode(chunks: &[Chunk]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut body = Vec::new();
    let mut payload = Some(Vec::new());
    for c in chunks {
        match c {
            Chunk::Frame(s, p) => {
                body.extend_from_slice(&[*s, 0, 0, 0]);
                body.extend_from_slice(&(p.len() as u32).to_be_bytes());
                body.extend_from_slice(p);
                if let Some(all) = payload.as_mut() {
                    all.extend_from_slice(p);
                }
            }
            Chunk::Garbage(g) => {
                body.extend_from_slice(g);
                payload = None;
            }
            Chunk::Lying(s, n, p) => {
                body.extend_from_slice(&[*s, 0, 0, 0]);
                body.extend_from_slice(&n.to_be_bytes());
                body.extend_from_slice(p);
                payload = None;
            }
        }
    }
    (body, payload)
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn log_streams_survive_whatever_the_daemon_sends() {
    let cases = sized("GOFER_FUZZ_CASES", 128, 2048) as u32;
    let capacities = vec(prop_oneof![Just(1usize), 2usize..16, 16usize..70_000], 1..8);
    let started = Instant::now();
    let bytes_checked = std::cell::Cell::new(0usize);
    runner(cases)
        .run(&(vec(chunk(), 0..12), capacities), |(chunks, capacities)| {
            let (body, whole) = encode(&chunks);
            let fake = FakeEngine::start(FakeMode::Container { logs: Arc::new(body.clone()) });
            let engine = cabi::Engine::new(Some(&fake.host()), 2000).map_err(|f| TestCaseError::fail(f.message))?;
            let logs = engine.logs("any").map_err(|f| TestCaseError::fail(f.message))?;

            // Misuse the handle first: each is refused, and the stream is still intact after.
            let mut n = 99usize;
            let mut buf = [0u8; 4];
            for (what, status) in [
                ("NULL buf", gofer_logs_read(logs.0, ptr::null_mut(), 4, &mut n, ptr::null_mut())),
                ("capacity 0", gofer_logs_read(logs.0, buf.as_mut_ptr(), 0, &mut n, ptr::null_mut())),
                (
                    "capacity > isize::MAX",
                    gofer_logs_read(logs.0, buf.as_mut_ptr(), usize::MAX, &mut n, ptr::null_mut()),
                ),
                ("NULL read_out", gofer_logs_read(logs.0, buf.as_mut_ptr(), 4, ptr::null_mut(), ptr::null_mut())),
            ] {
                prop_assert_eq!(status, GoferStatus::GOFER_INVALID_ARGUMENT, "{}", what);
            }
            prop_assert_eq!(n, 99, "read_out written on failure");

            let mut got = Vec::new();
            let mut ended = None;
            let deadline = Instant::now() + CALL_BOUND;
            for i in 0.. {
                prop_assert!(Instant::now() < deadline, "reading did not finish in {CALL_BOUND:?}");
                let cap = capacities[i % capacities.len()];
                let mut buf = vec![0u8; cap];
                match logs.read(&mut buf) {
                    Ok(0) => {
                        ended = Some(Ok(()));
                        break;
                    }
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(f) => {
                        prop_assert!(
                            !matches!(f.status, GoferStatus::GOFER_PANIC | GoferStatus::GOFER_INTERNAL),
                            "{}",
                            f.message
                        );
                        ended = Some(Err(f));
                        break;
                    }
                }
            }
            prop_assert!(got.len() <= body.len(), "{} payload bytes from a {}-byte body", got.len(), body.len());
            if let Some(whole) = whole {
                // Well-formed frames: exactly their payloads, in order, then a clean end.
                prop_assert!(matches!(ended, Some(Ok(()))), "well-formed stream ended with {:?}", ended);
                prop_assert!(got == whole, "payload differs: {} bytes, want {}", got.len(), whole.len());
            }
            bytes_checked.set(bytes_checked.get() + got.len());
            Ok(())
        })
        .unwrap();
    figure(
        "log_streams_survive_whatever_the_daemon_sends",
        format!(
            "{cases} generated streams (frames, garbage, lying headers) in {:.1?}, {} bytes read back",
            started.elapsed(),
            bytes_checked.get()
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Sizes at and past the limits (through the C ABI, on the test bed's engine)

/// Starts `command` with `env` through the C ABI.
fn c_start(engine: &cabi::Engine, id: &str, env: &[(String, String)], command: &[String]) -> Result<(), cabi::Failure> {
    let mut arena = Arena::default();
    let keys: Vec<*const c_char> = env.iter().map(|(k, _)| arena.arg(&Some(k.clone().into_bytes()))).collect();
    let values: Vec<*const c_char> = env.iter().map(|(_, v)| arena.arg(&Some(v.clone().into_bytes()))).collect();
    let argv: Vec<*const c_char> = command.iter().map(|a| arena.arg(&Some(a.clone().into_bytes()))).collect();
    let request = GoferStartRequest {
        id: arena.arg(&Some(id.as_bytes().to_vec())),
        image_name: arena.arg(&Some(common::bed().image.into_bytes())),
        env_keys: keys.as_ptr(),
        env_values: values.as_ptr(),
        env_count: env.len(),
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
    cabi::check(gofer_engine_start_container(engine.0, &request, ptr::null_mut(), &mut err), err)
}

/// Runs a container to its end through the C ABI; returns its logs and exit code.
fn c_run(
    engine: &cabi::Engine,
    id: &str,
    env: &[(String, String)],
    command: &[String],
) -> Result<(String, i64), cabi::Failure> {
    c_start(engine, id, env, command)?;
    let logs = engine.logs(id)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = logs.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (state, code) = engine.state(id)?;
        if state == GoferContainerState::GOFER_STATE_EXITED {
            return Ok((String::from_utf8_lossy(&out).into_owned(), code));
        }
        assert!(Instant::now() < deadline, "{id} did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sh(script: &str, args: &[String]) -> Vec<String> {
    let mut v = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned(), "sh".to_owned()];
    v.extend_from_slice(args);
    v
}

/// A failure must be clear: a status that says the engine refused, and a message of reasonable
/// size (it must not echo a megabyte of input back).
fn assert_clear_refusal(what: &str, f: &cabi::Failure) {
    assert!(
        matches!(
            f.status,
            GoferStatus::GOFER_ENGINE | GoferStatus::GOFER_INVALID_ARGUMENT | GoferStatus::GOFER_NO_SUCH_IMAGE
        ),
        "{what}: {:?} {}",
        f.status,
        f.message
    );
    assert!(f.message.len() < 16 * 1024, "{what}: a {}-byte message", f.message.len());
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn env_vars_and_commands_at_their_size_limits_reach_the_container() {
    let engine = cabi::Engine::new(None, 60_000).unwrap();
    let started = Instant::now();
    // 10,000 env vars.
    let many: Vec<(String, String)> = (0..10_000).map(|i| (format!("GOFER_V{i}"), format!("value-{i}"))).collect();
    let name = common::Name::new("size-many-env");
    let (out, code) = c_run(&engine, &name, &many, &sh("env | grep -c '^GOFER_V'; echo $GOFER_V9999", &[]))
        .unwrap_or_else(|f| panic!("10,000 env vars: {:?} {}", f.status, f.message));
    assert_eq!((out.as_str(), code), ("10000\nvalue-9999\n", 0));
    // A 64 KiB command argument, and a 100 KiB env value (below Linux's 128 KiB per string).
    let big_arg = "a".repeat(64 * 1024);
    let big_value = "b".repeat(100 * 1024);
    let name = common::Name::new("size-64k-command");
    let (out, code) =
        c_run(&engine, &name, &[("GOFER_BIG".to_owned(), big_value)], &sh("echo ${#1} ${#GOFER_BIG}", &[big_arg]))
            .unwrap_or_else(|f| panic!("64 KiB argument: {:?} {}", f.status, f.message));
    assert_eq!((out.as_str(), code), ("65536 102400\n", 0));
    figure(
        "env_vars_and_commands_at_their_size_limits_reach_the_container",
        format!(
            "10,000 env vars, a 64 KiB argument and a 100 KiB env value all reached the container ({:.1?})",
            started.elapsed()
        ),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn sizes_past_the_limits_are_a_clear_error_or_work() {
    let engine = cabi::Engine::new(None, 60_000).unwrap();
    let mut seen = Vec::new();
    // A 1 MiB env value, a 1 MiB argument: past Linux's 128 KiB per string, so the kernel
    // refuses to exec the container's process and the engine reports it.
    let mib = "c".repeat(1 << 20);
    let cases: Vec<(&str, Vec<(String, String)>, Vec<String>)> = vec![
        ("1 MiB env value", vec![("GOFER_HUGE".to_owned(), mib.clone())], sh("echo ${#GOFER_HUGE}", &[])),
        ("1 MiB command argument", vec![], sh("echo ${#1}", &[mib.clone()])),
        (
            "4 MiB of env in total",
            (0..64).map(|i| (format!("GOFER_E{i}"), "d".repeat(64 * 1024))).collect(),
            sh("env | wc -c", &[]),
        ),
    ];
    for (what, env, command) in cases {
        let name = common::Name::new("size-past");
        let t = Instant::now();
        match c_run(&engine, &name, &env, &command) {
            Ok((out, code)) => {
                seen.push(format!("{what}: started; the process could not run: exit {code}, logs {:?}", out.trim()))
            }
            Err(f) => {
                assert_clear_refusal(what, &f);
                seen.push(format!("{what}: {:?} in {:.1?}: {:.160}", f.status, t.elapsed(), f.message));
            }
        }
    }
    // Names: far past anything the engine stores, and with valid characters only.
    let long_id = format!("gofer-test-{}", "n".repeat(100_000));
    match c_start(&engine, &long_id, &[], &sh("true", &[])) {
        Ok(()) => {
            common::remove_container(&long_id);
            seen.push("100,000-character container name: accepted".into());
        }
        Err(f) => {
            assert_clear_refusal("long name", &f);
            seen.push(format!("100,000-character container name: {:?}: {:.120}", f.status, f.message));
        }
    }
    let long_image = format!("gofer-test/{}:latest", "i".repeat(100_000));
    let name = common::Name::new("size-long-image");
    let mut arena = Arena::default();
    let request = GoferStartRequest {
        id: arena.arg(&Some(name.0.clone().into_bytes())),
        image_name: arena.arg(&Some(long_image.into_bytes())),
        env_keys: ptr::null(),
        env_values: ptr::null(),
        env_count: 0,
        registry_user: ptr::null(),
        registry_pass: ptr::null(),
        always_pull: false,
        port: 0,
        entrypoint: ptr::null(),
        entrypoint_count: 0,
        command: ptr::null(),
        command_count: 0,
        ..GoferStartRequest::default()
    };
    let mut err = ptr::null_mut();
    let f = cabi::check(gofer_engine_start_container(engine.0, &request, ptr::null_mut(), &mut err), err)
        .expect_err("no such image");
    assert_clear_refusal("long image name", &f);
    seen.push(format!("100,000-character image name: {:?}: {:.120}", f.status, f.message));
    for line in &seen {
        figure("sizes_past_the_limits_are_a_clear_error_or_work", line);
    }
}

// ---------------------------------------------------------------------------------------------
// Handle misuse C can detect

fn c_engine() -> cabi::Engine {
    cabi::Engine::new(None, 60_000).unwrap()
}

fn shell_cmd(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn closing_a_log_handle_wakes_a_read_blocked_in_another_thread() {
    let engine = c_engine();
    let name = common::Name::new("misuse-close");
    c_start(&engine, &name, &[], &shell_cmd("sleep 300")).unwrap();
    let logs = Arc::new(engine.logs(&name).unwrap());
    let reader = logs.clone();
    let blocked = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        reader.read(&mut buf)
    });
    std::thread::sleep(Duration::from_millis(300));
    let closed = Instant::now();
    logs.close();
    let result = blocked.join().unwrap();
    let f = result.expect_err("a closed stream does not read");
    assert_eq!(f.status, GoferStatus::GOFER_INVALID_STATE, "{}", f.message);
    assert!(closed.elapsed() < Duration::from_secs(2), "woke after {:?}", closed.elapsed());
    // Reads after close, and a second close, are statuses too.
    let f = logs.read(&mut [0u8; 16]).expect_err("read after close");
    assert_eq!(f.status, GoferStatus::GOFER_INVALID_STATE);
    logs.close();
    figure(
        "closing_a_log_handle_wakes_a_read_blocked_in_another_thread",
        format!("blocked read woke with GOFER_INVALID_STATE {:.1?} after close", closed.elapsed()),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn freeing_the_engine_while_a_read_is_blocked_lets_the_stream_finish() {
    let engine = c_engine();
    let name = common::Name::new("misuse-free-engine");
    c_start(&engine, &name, &[], &shell_cmd("sleep 2; echo after the engine was freed")).unwrap();
    let logs = engine.logs(&name).unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match logs.read(&mut buf) {
                Ok(0) => return Ok(all),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(f) => return Err(f),
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(engine); // gofer_engine_free while the read is blocked
    let all = reader.join().unwrap().unwrap_or_else(|f| panic!("{:?} {}", f.status, f.message));
    assert_eq!(all, b"after the engine was freed\n");
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn freeing_the_engine_leaves_an_open_attach_session_working() {
    let engine = c_engine();
    let name = common::Name::new("misuse-attach");
    c_start(&engine, &name, &[], &shell_cmd("sleep 300")).unwrap();
    let session = engine.attach(&name, &["cat"]).unwrap();
    drop(engine);
    let fd = session.fd();
    write_fd(fd, b"still here\n");
    read_fd_until(fd, b"still here\r\nstill here\r\n", Duration::from_secs(20));
    assert_eq!(session.exit_code().unwrap(), None, "cat still runs");
    session.resize(100, 40).unwrap();
    // Closing twice, and calls after close: statuses, not crashes; the descriptor reads EOF.
    session.close();
    session.close();
    let (_, end) = read_fd_until_end(fd, Duration::from_secs(10));
    assert!(end.is_ok(), "the descriptor ends after close: {end:?}");
    let after = session.exit_code();
    assert!(after.is_ok() || known(after.as_ref().unwrap_err().status), "{after:?}");
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn two_threads_reading_one_log_handle_get_every_byte_exactly_once() {
    let engine = c_engine();
    let name = common::Name::new("misuse-two-readers");
    c_start(&engine, &name, &[], &shell_cmd("seq 1 20000")).unwrap();
    let logs = Arc::new(engine.logs(&name).unwrap());
    let collected = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (logs, collected) = (logs.clone(), collected.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 100];
                loop {
                    let n = logs.read(&mut buf).unwrap_or_else(|f| panic!("{:?} {}", f.status, f.message));
                    if n == 0 {
                        return;
                    }
                    // The handle serialises readers; each chunk goes to exactly one of them.
                    collected.lock().unwrap().push(buf[..n].to_vec());
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    let total: usize = collected.lock().unwrap().iter().map(|c| c.len()).sum();
    let expected: usize = (1..=20000).map(|i: u32| i.to_string().len() + 1).sum();
    assert_eq!(total, expected, "every byte once across both readers");
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// Every log record of the process, formatted (the library's and its dependencies').
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

/// The forms a secret can leak in: as is, and base64 (standard and URL-safe, at each of the
/// three alignments) as in the `X-Registry-Auth` header.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    for offset in 0..3 {
        let mut bytes = vec![b'"'; offset];
        bytes.extend_from_slice(secret.as_bytes());
        for engine in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE] {
            let enc = engine.encode(&bytes);
            // The first and last 4-character groups mix in the neighbours: keep what is the
            // secret's alone.
            out.push(enc[4..enc.len() - 4].to_owned());
        }
    }
    out
}

fn assert_secret_absent(secret: &str, texts: &[String], what: &str) {
    for form in forms(secret) {
        for text in texts {
            assert!(!text.contains(&form), "{what}: the secret appears (as {form:?}) in: {:.300}", text);
        }
    }
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_registry_password_never_appears_in_errors_debug_strings_or_log_records() {
    let capture = capture();
    let bed = common::bed();
    let password = format!("gofer-secret-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos() ^ 0x5eed_1234);
    let silent = SilentListener::start();
    let engine =
        BlockingEngine::connect(DockerOptions { timeout: Duration::from_secs(3), ..Default::default() }).unwrap();
    let mut texts = Vec::new();
    let mut outcomes = Vec::new();
    let images = [
        bed.private_image.clone(),                                  // refused credentials (401)
        "127.0.0.1:1/gofer/unreachable:latest".to_owned(),          // registry refuses connections
        format!("{}/gofer/never-answers:latest", silent.address()), // registry never answers: timeout
        "127.0.0.1:5000/Not/A/Valid/Reference:latest".to_owned(),   // invalid reference
    ];
    for image in &images {
        let name = common::Name::new("secret");
        let mut req = StartContainerRequest::new(name.0.clone(), image.clone());
        req.registry_auth = Some(RegistryAuth { user: bed.user.clone(), pass: password.clone() });
        req.always_pull = true;
        texts.push(format!("{req:?}"));
        texts.push(format!("{:?}", req.registry_auth));
        let err = engine.start_container(req).err().expect("no image with a wrong password");
        outcomes.push(format!("{:?}", err.kind()));
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            texts.push(s.to_string());
            texts.push(format!("{s:?}"));
            source = s.source();
        }
    }
    // An invalid request that carries the password: the refusal must not quote it.
    let mut req = StartContainerRequest::new("gofer-test-secret-invalid", bed.image.clone());
    req.registry_auth = Some(RegistryAuth { user: String::new(), pass: password.clone() });
    let err = engine.start_container(req).err().expect("empty user is refused");
    texts.push(format!("{err} {err:?}"));

    // The same through the C ABI.
    let c = cabi::Engine::new(None, 3000).unwrap();
    for image in &images[..2] {
        let name = common::Name::new("secret-c");
        let mut arena = Arena::default();
        let request = GoferStartRequest {
            id: arena.arg(&Some(name.0.clone().into_bytes())),
            image_name: arena.arg(&Some(image.clone().into_bytes())),
            env_keys: ptr::null(),
            env_values: ptr::null(),
            env_count: 0,
            registry_user: arena.arg(&Some(bed.user.clone().into_bytes())),
            registry_pass: arena.arg(&Some(password.clone().into_bytes())),
            always_pull: true,
            port: 0,
            entrypoint: ptr::null(),
            entrypoint_count: 0,
            command: ptr::null(),
            command_count: 0,
            ..GoferStartRequest::default()
        };
        let mut err = ptr::null_mut();
        let f = cabi::check(gofer_engine_start_container(c.0, &request, ptr::null_mut(), &mut err), err)
            .expect_err("no image");
        texts.push(f.message);
    }

    let records = capture.0.lock().unwrap().clone();
    assert!(!records.is_empty(), "the capture saw no log record at all: is the logger installed?");
    assert_secret_absent(&password, &texts, "an error or Debug string");
    assert_secret_absent(&password, &records, "a log record");
    figure(
        "a_registry_password_never_appears_in_errors_debug_strings_or_log_records",
        format!(
            "{} failed pulls with the password ({outcomes:?}), {} error/Debug strings and {} log records (all levels) \
             searched for the password and its base64 forms: absent",
            images.len() + 2,
            texts.len(),
            records.len()
        ),
    );
}

/// Env values are where Gofer puts a pipeline's secrets. The library logs one debug record per
/// request, its method and path only; bollard's client, which it used before, logged every
/// request's JSON body, and a container's create body holds its env.
#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn env_values_never_appear_in_log_records() {
    let capture = capture();
    let secret = format!("gofer-env-secret-{}", std::process::id());
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = common::Name::new("secret-env");
    let mut req = common::shell(&name, "true");
    req.env_vars.insert("GOFER_SECRET_TOKEN".into(), secret.clone());
    engine.start_container(req).unwrap();
    let records = capture.0.lock().unwrap().clone();
    assert_secret_absent(&secret, &records, "a log record");
}
