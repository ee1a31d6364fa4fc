//! The swarm requests the library makes of a manager, built in one place (the Docker engine's
//! path, query and body helpers; bollard's models of a service spec).
//!
//! Every request goes under the negotiated API version (1.41 or later): a service create made
//! so is never resolved against a registry by the manager (it does that only for clients older
//! than API 1.30, as the docker CLI's `--no-resolve-image` avoids), so an image that lives only
//! on the nodes stays as it was named.

use bollard::models::ServiceSpec;

use crate::docker::api::{json, query, segment};
use crate::error::Result;
use crate::http::Request;
use crate::model::MANAGED_LABEL;

/// The engine's own facts, swarm membership among them.
pub(crate) fn info() -> Request {
    Request::get("swarm info", "/info".into())
}

/// Creates a service; `registry_auth` is handed by the swarm to the node that pulls.
pub(crate) fn create_service(spec: &ServiceSpec, registry_auth: Option<String>) -> Result<Request> {
    let what = "service create";
    let mut request = Request::post(what, "/services/create".into()).json(json(what, spec)?);
    request.registry_auth = registry_auth;
    Ok(request)
}

/// A service by name, ID or ID prefix.
pub(crate) fn inspect_service(key: &str) -> Request {
    Request::get("service inspect", format!("/services/{}", segment(key)))
}

/// Removes a service; the swarm stops and removes its tasks.
pub(crate) fn remove_service(key: &str) -> Request {
    Request::new("service remove", "DELETE", format!("/services/{}", segment(key)))
}

/// The services carrying the library's label.
pub(crate) fn list_managed_services() -> Request {
    let filters = serde_json::json!({ "label": [format!("{MANAGED_LABEL}=true")] });
    Request::get("service list", format!("/services?{}", query(&[("filters", &filters.to_string())])))
}

/// The tasks of the services named (names, IDs or ID prefixes); a name the swarm does not know
/// is a 404.
pub(crate) fn list_tasks(services: &[&str]) -> Request {
    let filters = serde_json::json!({ "service": services });
    Request::get("task list", format!("/tasks?{}", query(&[("filters", &filters.to_string())])))
}

pub(crate) fn inspect_task(task_id: &str) -> Request {
    Request::get("task inspect", format!("/tasks/{}", segment(task_id)))
}

pub(crate) fn inspect_node(node_id: &str) -> Request {
    Request::get("node inspect", format!("/nodes/{}", segment(node_id)))
}

pub(crate) fn list_nodes() -> Request {
    Request::get("node list", "/nodes".into())
}

/// A task's log (stdout and stderr), followed or not; `extra` adds the parameters of a later
/// pass. A followed task log never ends by itself, even when the task has.
pub(crate) fn task_logs(task_id: &str, follow: bool, timestamps: bool, extra: &str) -> Request {
    let follow = if follow { "&follow=1" } else { "" };
    let stamps = if timestamps { "&timestamps=1" } else { "" };
    Request::get("task logs", format!("/tasks/{}/logs?stdout=1&stderr=1{follow}{stamps}{extra}", segment(task_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_filters_name_the_services_and_logs_follow_only_when_asked() {
        let request = list_tasks(&["job-1"]);
        let (_, filters) = request.path.split_once("filters=").unwrap();
        let decoded: Vec<(String, String)> = serde_urlencoded::from_str(&format!("f={filters}")).unwrap();
        assert_eq!(decoded[0].1, r#"{"service":["job-1"]}"#);
        assert_eq!(task_logs("t1", true, true, "&tail=3").path, "/tasks/t1/logs?stdout=1&stderr=1&follow=1&timestamps=1&tail=3");
        assert_eq!(task_logs("t1", false, false, "").path, "/tasks/t1/logs?stdout=1&stderr=1");
        assert!(create_service(&ServiceSpec::default(), None).unwrap().versioned, "never the unversioned path");
    }
}
