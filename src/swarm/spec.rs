//! A StartContainerRequest as a swarm service: a replicated job of one task that runs once,
//! named after the task's ID (docs/contract.md, "Swarm").

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec, Limit, MountTmpfsOptions,
    MountType, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicatedJob, TaskSpec, TaskSpecContainerSpec, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use crate::docker::container::engine_mount;
use crate::error::{Error, Result};
use crate::model::{StartContainerRequest, MANAGED_LABEL};

/// The label that keeps the ID a service was started with, when its name had to differ.
pub const ID_LABEL: &str = "dev.gofer.scheduler.id";

/// Longest swarm service name (a DNS label).
const MAX_SERVICE_NAME: usize = 63;
/// Characters of the ID kept in front of the hash in a derived name.
const KEPT: usize = MAX_SERVICE_NAME - 17;

/// The service name of a task ID. Swarm names are DNS labels (letters, digits and inner '-', at
/// most 63), container names are not (Gofer's hold '_'): an ID that is no DNS label is named by
/// its letters and digits (others become '-') and a hash of the whole ID, the same every time,
/// so that every call finds the service the start made. A service ID or prefix is a DNS label,
/// and is looked up as it is.
pub(crate) fn service_name(id: &str) -> String {
    let label = !id.is_empty()
        && id.len() <= MAX_SERVICE_NAME
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if label {
        return id.to_owned();
    }
    let kept: String = id.chars().take(KEPT).map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{}-{:016x}", kept.trim_matches('-'), fnv1a(id.as_bytes()))
}

/// FNV-1a, 64 bits: short, stable across releases and platforms (a name must not change when
/// the library does), and enough to tell apart IDs that share their first 46 characters.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What swarm cannot do of a request that a single engine can: refused before the manager is
/// asked, naming the field.
pub(crate) fn check(req: &StartContainerRequest) -> Result<()> {
    if req.privileged {
        return Err(Error::invalid_argument("privileged", "swarm services cannot run privileged containers"));
    }
    let runs_something = req.command.as_ref().is_some_and(|c| !c.is_empty());
    if req.entrypoint.as_ref().is_some_and(Vec::is_empty) && !runs_something {
        return Err(Error::invalid_argument(
            "entrypoint",
            "an empty entrypoint needs a command on swarm (a service cannot drop the image's entrypoint and keep its CMD)",
        ));
    }
    if req.resources.shm_size_bytes.is_some() && req.mounts.iter().any(|m| m.target == SHM) {
        return Err(Error::invalid_argument("resources.shm_size_bytes", "a mount at /dev/shm is given too"));
    }
    if req.labels.contains_key(ID_LABEL) {
        return Err(Error::invalid_argument("labels", format!("{ID_LABEL} is the library's own label")));
    }
    Ok(())
}

const SHM: &str = "/dev/shm";

/// The service of a checked request.
pub(crate) fn service(req: &StartContainerRequest, name: &str) -> ServiceSpec {
    let env: Vec<String> = req.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    // Swarm's Command replaces the image's entrypoint and Args its CMD; a Command without Args
    // runs with no CMD at all. So an empty entrypoint runs the command as the program.
    let (command, args) = match (&req.entrypoint, &req.command) {
        (Some(entrypoint), command) if !entrypoint.is_empty() => (Some(entrypoint.clone()), command.clone()),
        (Some(_), command) => (command.clone(), None),
        (None, Some(command)) if !command.is_empty() => (None, Some(command.clone())),
        (None, _) => (None, None),
    };
    let mut mounts: Vec<bollard::models::Mount> = req.mounts.iter().map(engine_mount).collect();
    if let Some(size) = req.resources.shm_size_bytes {
        // Services have no ShmSize: a tmpfs of that size at /dev/shm is what it sets.
        let tmpfs_options = Some(MountTmpfsOptions { size_bytes: Some(size), ..Default::default() });
        mounts.push(bollard::models::Mount { target: Some(SHM.into()), typ: Some(MountType::TMPFS), tmpfs_options, ..Default::default() });
    }
    let r = &req.resources;
    let limits = Limit { nano_cpus: r.cpus.map(|cpus| (cpus * 1e9).round() as i64), memory_bytes: r.memory_bytes, pids: r.pids_limit };
    let mut labels: HashMap<String, String> = req.labels.clone().into_iter().collect();
    labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    labels.insert(ID_LABEL.to_owned(), req.id.clone());
    let ports = req.networking.map(|n| {
        // Host mode: the port is opened on the node that runs the task. The ingress routing
        // mesh (any node's port, load-balanced) needs IPVS in the nodes' kernels.
        vec![EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(i64::from(n.port)),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        }]
    });
    ServiceSpec {
        name: Some(name.to_owned()),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(req.image_name.clone()),
                // The caller's labels only: the library's label marks the service, so that a
                // single-engine prune on a node never removes a task's container (and its log).
                labels: (!req.labels.is_empty()).then(|| req.labels.clone().into_iter().collect()),
                command,
                args,
                env: (!env.is_empty()).then_some(env),
                dir: req.working_dir.clone(),
                user: req.user.clone(),
                mounts: (!mounts.is_empty()).then_some(mounts),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources { limits: Some(limits), ..Default::default() }),
            // One run: a task that fails is not started again (its exit code is the answer).
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                max_attempts: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob { max_concurrent: Some(1), total_completions: Some(1) }),
            ..Default::default()
        }),
        endpoint_spec: ports.map(|ports| EndpointSpec { ports: Some(ports), ..Default::default() }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Networking, Resources};

    #[test]
    fn ids_that_are_dns_labels_name_their_service_and_others_get_a_stable_hash() {
        assert_eq!(service_name("job-1"), "job-1");
        assert_eq!(service_name("x7k2m9p0q1w2e3r4t5y6u7i8o"), "x7k2m9p0q1w2e3r4t5y6u7i8o");
        let gofer = service_name("ns_pipeline_12_build");
        assert!(gofer.starts_with("ns-pipeline-12-build-"), "{gofer}");
        assert_eq!(gofer, service_name("ns_pipeline_12_build"), "the same every time");
        assert_ne!(gofer, service_name("ns-pipeline_12_build"));
        let long = service_name(&"a".repeat(200));
        assert!(long.len() <= MAX_SERVICE_NAME, "{long}");
        assert_ne!(service_name("a.b"), "a.b");
        assert!(service_name("-x").bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn a_request_becomes_a_job_of_one_task_that_runs_once() {
        let mut req = StartContainerRequest::new("ns_job", "busybox");
        req.command = Some(vec!["echo".into(), "hi".into()]);
        req.networking = Some(Networking { port: 8080 });
        req.resources = Resources { memory_bytes: Some(64 << 20), cpus: Some(0.5), pids_limit: Some(10), shm_size_bytes: Some(1 << 20) };
        let spec = serde_json::to_value(service(&req, &service_name(&req.id))).unwrap();
        assert_eq!(spec["Mode"]["ReplicatedJob"]["TotalCompletions"], 1);
        assert_eq!(spec["TaskTemplate"]["RestartPolicy"]["Condition"], "none");
        assert_eq!(spec["Labels"][MANAGED_LABEL], "true");
        assert_eq!(spec["Labels"][ID_LABEL], "ns_job");
        assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["Args"][0], "echo");
        assert!(spec["TaskTemplate"]["ContainerSpec"].get("Command").is_none());
        assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["Target"], "/dev/shm");
        assert_eq!(spec["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"], 500_000_000);
        assert_eq!(spec["EndpointSpec"]["Ports"][0]["PublishMode"], "host");
    }

    #[test]
    fn entrypoints_map_onto_command_and_args() {
        let run = |entrypoint: Option<Vec<&str>>, command: Option<Vec<&str>>| {
            let mut req = StartContainerRequest::new("j", "i");
            req.entrypoint = entrypoint.map(|e| e.into_iter().map(String::from).collect());
            req.command = command.map(|c| c.into_iter().map(String::from).collect());
            check(&req).map(|_| {
                let c = service(&req, "j").task_template.unwrap().container_spec.unwrap();
                (c.command, c.args)
            })
        };
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(run(Some(vec!["sh"]), Some(vec!["-c", "x"])).unwrap(), (v(&["sh"]), v(&["-c", "x"])));
        assert_eq!(run(Some(vec![]), Some(vec!["echo", "x"])).unwrap(), (v(&["echo", "x"]), None));
        assert_eq!(run(None, Some(vec![])).unwrap(), (None, None), "the image's CMD");
        assert_eq!(run(Some(vec![]), None).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn what_swarm_cannot_do_is_refused_naming_the_field() {
        let mut req = StartContainerRequest::new("j", "i");
        req.privileged = true;
        assert!(check(&req).unwrap_err().message().starts_with("privileged:"));
        let mut req = StartContainerRequest::new("j", "i");
        req.labels.insert(ID_LABEL.into(), "x".into());
        assert!(check(&req).unwrap_err().message().starts_with("labels:"));
    }
}
