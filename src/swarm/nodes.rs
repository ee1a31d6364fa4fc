//! The nodes' own engines: swarm's API proxies neither exec nor signals to the node that runs a
//! task, so attach and stop go to that node's Docker engine, found in the caller's map from node
//! (ID, hostname or address) to engine address, connected on first use and kept.
//!
//! [`Face`] says how a swarm operation talks to a node: on the async client, or on the blocking
//! one on the caller's thread, as the operation itself talks to the manager.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use super::task::Node;
use crate::docker::{self, AttachSession, DockerEngine, DockerOptions};
use crate::engine::Interrupt;
use crate::error::{Error, Result};
use crate::http::{deadline_in, Answer, Endpoint, Request, Transport};
use crate::model::{AttachContainerRequest, StopContainerRequest};

/// How a swarm operation reaches a node's engine: the face (async or blocking) it runs in.
pub(crate) trait Face: Sync {
    /// Connects to a node's engine.
    fn connect(&self, options: DockerOptions) -> impl Future<Output = Result<DockerEngine>> + Send;
    /// One request to a node's engine.
    fn call(&self, node: &DockerEngine, request: &Request) -> impl Future<Output = Result<Answer>> + Send;
    /// Stops a container on its node as a single engine does (docs/contract.md, StopContainer).
    fn stop(&self, node: &DockerEngine, request: StopContainerRequest) -> impl Future<Output = Result<()>> + Send;
    /// An exec with a TTY in a container of the node.
    fn attach(&self, node: &DockerEngine, request: AttachContainerRequest) -> impl Future<Output = Result<AttachSession>> + Send;
}

/// The async face: the nodes' async clients, on the caller's runtime.
pub(crate) struct Async;

impl Face for Async {
    async fn connect(&self, options: DockerOptions) -> Result<DockerEngine> {
        DockerEngine::connect(options).await
    }

    async fn call(&self, node: &DockerEngine, request: &Request) -> Result<Answer> {
        node.shared.asynch.call(request, deadline_in(node.shared.asynch.timeout())).await
    }

    async fn stop(&self, node: &DockerEngine, request: StopContainerRequest) -> Result<()> {
        docker::container::stop(&node.shared.asynch, &node.shared, request).await
    }

    async fn attach(&self, node: &DockerEngine, request: AttachContainerRequest) -> Result<AttachSession> {
        docker::attach::attach(&node.shared.asynch, &node.shared, request).await
    }
}

/// The blocking face: the nodes' blocking clients, on the caller's thread, with its interrupt.
pub(crate) struct Blocking<'a>(pub Interrupt<'a>);

impl Face for Blocking<'_> {
    async fn connect(&self, options: DockerOptions) -> Result<DockerEngine> {
        DockerEngine::connect_blocking(options, self.0)
    }

    async fn call(&self, node: &DockerEngine, request: &Request) -> Result<Answer> {
        let call = node.shared.blocking.call(self.0);
        call.call(request, deadline_in(call.timeout())).await
    }

    async fn stop(&self, node: &DockerEngine, request: StopContainerRequest) -> Result<()> {
        docker::container::stop(&node.shared.blocking.call(self.0), &node.shared, request).await
    }

    async fn attach(&self, node: &DockerEngine, request: AttachContainerRequest) -> Result<AttachSession> {
        docker::attach::attach(&node.shared.blocking.call(self.0), &node.shared, request).await
    }
}

/// The map from node to engine address, and the engines connected so far.
pub(crate) struct Nodes {
    routes: BTreeMap<String, String>,
    /// TLS and timeout of the manager, for the nodes' engines.
    template: DockerOptions,
    engines: Mutex<HashMap<String, DockerEngine>>,
}

impl Nodes {
    /// Checks every address now: a mistyped one is an invalid argument at engine creation,
    /// not at the first attach.
    pub(crate) fn new(routes: BTreeMap<String, String>, manager: &DockerOptions) -> Result<Self> {
        for (node, address) in &routes {
            if node.is_empty() {
                return Err(Error::invalid_argument("nodes", "a node name is empty"));
            }
            Endpoint::resolve(Some(address), manager.tls.as_ref())
                .map_err(|e| Error::invalid_argument("nodes", format_args!("node {node:?}: {}", e.message())).with_source(e))?;
        }
        let template = DockerOptions { prune: false, host: None, ..manager.clone() };
        Ok(Nodes { routes, template, engines: Mutex::new(HashMap::new()) })
    }

    /// Whether no node's engine is known (then only the swarm's own answers are used).
    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The engine address given for `node`, by its ID, hostname or address.
    fn address(&self, node: &Node) -> Option<&String> {
        [node.id.as_str(), node.hostname(), node.addr()].into_iter().filter(|k| !k.is_empty()).find_map(|k| self.routes.get(k))
    }

    /// The engine of the node that runs task `task_id`, connected on first use.
    pub(crate) async fn engine<F: Face>(&self, face: &F, node: &Node, task_id: &str) -> Result<DockerEngine> {
        let Some(address) = self.address(node) else {
            let known: Vec<&str> = self.routes.keys().map(String::as_str).collect();
            return Err(Error::invalid_argument(
                "nodes",
                format_args!(
                    "task {task_id} runs on node {} (hostname {:?}, address {}), whose engine is not in the map (it names {known:?}); \
                     swarm proxies neither exec nor signals, so this needs the node's own engine",
                    node.id,
                    node.hostname(),
                    node.addr()
                ),
            ));
        };
        if let Some(engine) = self.lock().get(address) {
            return Ok(engine.clone());
        }
        let engine = face.connect(DockerOptions { host: Some(address.clone()), ..self.template.clone() }).await?;
        self.lock().insert(address.clone(), engine.clone());
        Ok(engine)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DockerEngine>> {
        // A plain map of handles, consistent between operations: a poisoned lock is still usable.
        self.engines.lock().unwrap_or_else(|p| p.into_inner())
    }
}
