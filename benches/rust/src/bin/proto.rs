//! Prototypes of the core fixes that benchmarks/analysis recommend, measured on the same daemon
//! as the suite (not part of the suite's table; see benches/analysis.md).
//!
//!   gofer-bench-proto state id=<exited container> n=<calls> pool=0|1 runtime=ct|mt
//!       GetState's request (a container inspect through bollard, typed response) with:
//!       pool=0  bollard's own unix client (`Docker::connect_with_unix`), which disables
//!               connection pooling (pool_max_idle_per_host(0)): one new connection per request;
//!       pool=1  the same bollard over a hyper-util client with pooling (keep-alive), given to
//!               `Docker::connect_with_custom_transport`;
//!       runtime=mt  called through block_on on a 2-worker multi-thread runtime from a foreign
//!               thread: exactly the library's blocking path (C ABI, Go, Python);
//!       runtime=ct  on a current-thread runtime (the request and the connection task share the
//!               calling thread).
//!   gofer-bench-proto state-min id=<exited container> n=<calls> runtime=ct|mt
//!       The same request over the same pooled hyper-util client, without bollard: the body is
//!       deserialized into the three fields GetState needs (Id, State.Status, State.ExitCode)
//!       instead of bollard's complete typed ContainerInspectResponse.
//!   gofer-bench-proto state-std id=<exited container> n=<calls> decode=min|full
//!       A blocking std client on the calling thread (bench::http, the raw client's engine) with
//!       one kept-alive connection, and the body decoded with serde_json into the three fields
//!       (min) or into bollard's complete ContainerInspectResponse (full): the cost of the
//!       decode on top of the floor.
//!   gofer-bench-proto state-paired id=<exited container> n=<calls> expect_code=<code>
//!       The raw client's GetState and the C ABI's (`gofer_engine_get_state`), one call each in
//!       turn on one thread; prints {"raw_ns": [...], "lib_ns": [...]} (the C ABI's).
//!   Prints {"samples_ns": [...], "connects": <connections made while measuring, pooled only>}.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::*;
use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};

static CONNECTS: AtomicU64 = AtomicU64::new(0);

const SOCKET: &str = "/var/run/docker.sock";

/// A unix connector that counts the connections it makes.
#[derive(Clone)]
struct Counting(hyperlocal::UnixConnector);

impl tower_service::Service<hyper::Uri> for Counting {
    type Response = <hyperlocal::UnixConnector as tower_service::Service<hyper::Uri>>::Response;
    type Error = <hyperlocal::UnixConnector as tower_service::Service<hyper::Uri>>::Error;
    type Future = <hyperlocal::UnixConnector as tower_service::Service<hyper::Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        CONNECTS.fetch_add(1, Ordering::Relaxed);
        self.0.call(uri)
    }
}

type Pooled<B> = hyper_util::client::legacy::Client<Counting, B>;

fn pooled_client<B: hyper::body::Body + Send>() -> Pooled<B>
where
    B::Data: Send,
{
    let mut builder = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    builder.pool_idle_timeout(Duration::from_secs(30));
    builder.build(Counting(hyperlocal::UnixConnector))
}

/// What GetState needs from an inspect; serde skips the rest of the document.
#[derive(serde::Deserialize)]
struct MinimalInspect {
    #[serde(rename = "Id")]
    _id: String,
    #[serde(rename = "State")]
    state: MinimalState,
}

#[derive(serde::Deserialize)]
struct MinimalState {
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ExitCode")]
    exit_code: i64,
}

async fn minimal_state(client: &Pooled<http_body_util::Empty<bytes::Bytes>>, id: &str) -> (String, i64) {
    use http_body_util::BodyExt;
    let uri: hyper::Uri = hyperlocal::Uri::new(SOCKET, &format!("/v1.41/containers/{id}/json")).into();
    let req = hyper::Request::get(uri).body(http_body_util::Empty::new()).unwrap_or_else(|e| die(&format!("{e}")));
    let resp = client.request(req).await.unwrap_or_else(|e| die(&format!("inspect: {e}")));
    if resp.status() != 200 {
        die(&format!("inspect: {}", resp.status()));
    }
    let body = resp.into_body().collect().await.unwrap_or_else(|e| die(&format!("inspect body: {e}"))).to_bytes();
    let info: MinimalInspect = serde_json::from_slice(&body).unwrap_or_else(|e| die(&format!("inspect json: {e}")));
    (info.state.status, info.state.exit_code)
}

/// bollard over a pooling hyper-util client: the fix for src/docker/connect.rs.
fn pooled_docker(timeout_s: u64) -> Docker {
    let client = Arc::new(pooled_client());
    let transport = move |req: BollardRequest| {
        let client = client.clone();
        async move { client.request(req).await.map_err(bollard::errors::Error::from) }
    };
    // bollard writes the address into the URI's authority; hyperlocal's connector reads it back
    // as the hex-encoded socket path.
    let address = format!("unix://{}", hex::encode(SOCKET));
    Docker::connect_with_custom_transport(transport, Some(address), timeout_s, API_DEFAULT_VERSION)
        .unwrap_or_else(|e| die(&format!("connect: {e}")))
}

fn main() {
    let args = Args::parse();
    let runtime = match args.str_or("runtime", "mt").as_str() {
        "ct" => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        _ => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build(),
    }
    .unwrap_or_else(|e| die(&format!("runtime: {e}")));
    match args.op.as_str() {
        "state" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 1000), args.num("warmup", 20));
            let docker = runtime.block_on(async {
                let docker = if args.num("pool", 1) == 1 {
                    pooled_docker(31)
                } else {
                    Docker::connect_with_unix(SOCKET, 31, API_DEFAULT_VERSION)
                        .unwrap_or_else(|e| die(&format!("connect: {e}")))
                };
                docker.negotiate_version().await.unwrap_or_else(|e| die(&format!("negotiate: {e}")))
            });
            let mut samples = Vec::new();
            let mut connects0 = 0;
            for i in 0..warmup + n {
                if i == warmup {
                    connects0 = CONNECTS.load(Ordering::Relaxed);
                }
                let t = Instant::now();
                let info = runtime
                    .block_on(docker.inspect_container(&id, None))
                    .unwrap_or_else(|e| die(&format!("inspect: {e}")));
                let dt = t.elapsed();
                if info.state.and_then(|s| s.exit_code).is_none() {
                    die("inspect: no exit code");
                }
                if i >= warmup {
                    samples.push(nanos(dt));
                }
            }
            let json = Json::default().list("samples_ns", &samples);
            if args.num("pool", 1) == 1 {
                json.num("connects", CONNECTS.load(Ordering::Relaxed) - connects0).print();
            } else {
                json.print(); // bollard's own connector: one connection per request (strace)
            }
        }
        "state-min" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 1000), args.num("warmup", 20));
            let client = runtime.block_on(async { pooled_client() });
            let mut samples = Vec::new();
            let mut connects0 = 0;
            for i in 0..warmup + n {
                if i == warmup {
                    connects0 = CONNECTS.load(Ordering::Relaxed);
                }
                let t = Instant::now();
                let (status, code) = runtime.block_on(minimal_state(&client, &id));
                let dt = t.elapsed();
                if status != "exited" || code < 0 {
                    die(&format!("state: {status} {code}"));
                }
                if i >= warmup {
                    samples.push(nanos(dt));
                }
            }
            Json::default().list("samples_ns", &samples).num("connects", CONNECTS.load(Ordering::Relaxed) - connects0).print();
        }
        "state-std" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 1000), args.num("warmup", 20));
            let full = args.str_or("decode", "min") == "full";
            let mut conn = bench::http::Conn::open(Duration::from_secs(30)).unwrap_or_else(|e| die(&format!("connect: {e}")));
            let mut samples = Vec::new();
            for i in 0..warmup + n {
                let t = Instant::now();
                let body = conn
                    .expect("GET", &format!("/containers/{id}/json"), None, &[200])
                    .unwrap_or_else(|e| die(&format!("inspect: {e}")));
                let (status, code) = if full {
                    let info: bollard::models::ContainerInspectResponse =
                        serde_json::from_slice(&body).unwrap_or_else(|e| die(&format!("json: {e}")));
                    let state = info.state.unwrap_or_default();
                    (state.status.map(|s| s.to_string()).unwrap_or_default(), state.exit_code.unwrap_or(-1))
                } else {
                    let info: MinimalInspect = serde_json::from_slice(&body).unwrap_or_else(|e| die(&format!("json: {e}")));
                    (info.state.status, info.state.exit_code)
                };
                let dt = t.elapsed();
                if status != "exited" || code < 0 {
                    die(&format!("state: {status} {code}"));
                }
                if i >= warmup {
                    samples.push(nanos(dt));
                }
            }
            Json::default().list("samples_ns", &samples).print();
        }
        "state-paired" => {
            // The raw client and the C ABI (the same extern "C" function a C program calls),
            // one call each in turn on the same thread: both see the same machine at the same
            // moment, which rounds of separate processes cannot give at ~100 us per call.
            use gofer_scheduler::ffi::*;
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 1000), args.num("warmup", 20));
            let expect = args.num("expect_code", 0) as i64;
            let mut conn = bench::http::Conn::open(Duration::from_secs(30)).unwrap_or_else(|e| die(&format!("connect: {e}")));
            let mut engine: *mut GoferEngine = std::ptr::null_mut();
            let status = gofer_engine_new(std::ptr::null(), &mut engine, std::ptr::null_mut());
            if status != GoferStatus::GOFER_OK {
                die(&format!("gofer_engine_new: {status:?}"));
            }
            let cid = std::ffi::CString::new(id.clone()).unwrap_or_else(|_| die("id"));
            let (mut raw, mut c) = (Vec::new(), Vec::new());
            for i in 0..warmup + n {
                // Alternate which goes first, so that neither always follows the other.
                let mut one = |which: bool| {
                    let t = Instant::now();
                    if which {
                        let (status, code) = conn.state(&id).unwrap_or_else(|e| die(&format!("raw state: {e}")));
                        if status != "exited" || code != expect {
                            die(&format!("raw state: {status} {code}"));
                        }
                    } else {
                        let (mut state, mut code) = (GoferContainerState::GOFER_STATE_UNKNOWN, 0i64);
                        let status = gofer_engine_get_state(engine, cid.as_ptr(), &mut state, &mut code, std::ptr::null_mut());
                        if status != GoferStatus::GOFER_OK || state != GoferContainerState::GOFER_STATE_EXITED || code != expect {
                            die(&format!("C state: {status:?} {state:?} {code}"));
                        }
                    }
                    nanos(t.elapsed())
                };
                let (a, b) = if i % 2 == 0 { (one(true), one(false)) } else { let b = one(false); (one(true), b) };
                if i >= warmup {
                    raw.push(a);
                    c.push(b);
                }
            }
            gofer_engine_free(engine);
            Json::default().list("raw_ns", &raw).list("lib_ns", &c).print();
        }
        op => die(&format!("unknown op {op}")),
    }
}
