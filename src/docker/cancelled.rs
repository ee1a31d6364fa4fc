//! The containers stopped through StopContainer, so that GetState can tell CANCELLED from
//! EXITED.
//!
//! Keyed by full ID, not by the name the caller used: a container started again under the same
//! name gets a new ID, so its cancellation is forgotten by construction, and a stop by name
//! matches a state by ID. The name is kept beside it so that entries can be dropped when they
//! can no longer be asked about: the container was replaced by a start of the same name, was
//! found gone by a GetState, or was pruned. Without that, a process that never prunes would keep
//! every stopped container's ID for its whole life.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct Cancelled {
    /// Full ID → the container's name.
    by_id: HashMap<String, String>,
    /// Name → full ID.
    by_name: HashMap<String, String>,
}

impl Cancelled {
    pub(crate) fn record(&mut self, full_id: String, name: String) {
        // Names are unique among existing containers: an older entry under this name is of a
        // container that is gone.
        if let Some(old) = self.by_name.insert(name.clone(), full_id.clone()) {
            if old != full_id {
                self.by_id.remove(&old);
            }
        }
        self.by_id.insert(full_id, name);
    }

    pub(crate) fn contains(&self, full_id: &str) -> bool {
        self.by_id.contains_key(full_id)
    }

    /// The container with this full ID is gone.
    pub(crate) fn forget_id(&mut self, full_id: &str) {
        if let Some(name) = self.by_id.remove(full_id) {
            if self.by_name.get(&name).is_some_and(|id| id == full_id) {
                self.by_name.remove(&name);
            }
        }
    }

    /// `reference`, a name or full ID as a caller passes it, no longer designates the container
    /// that was stopped: it was replaced, or the engine does not know it any more.
    pub(crate) fn forget(&mut self, reference: &str) {
        if let Some(id) = self.by_name.remove(reference) {
            self.by_id.remove(&id);
        }
        self.forget_id(reference);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_dropped_when_replaced_gone_or_pruned() {
        let mut c = Cancelled::default();
        c.record("id1".into(), "job".into());
        assert!(c.contains("id1"));
        c.forget("job"); // a start replaced it
        assert!(!c.contains("id1"));
        assert_eq!(c.len(), 0);

        c.record("id2".into(), "job2".into());
        c.forget("id2"); // a GetState by full ID found it gone
        assert_eq!((c.len(), c.by_name.len()), (0, 0));

        c.record("id3".into(), "job3".into());
        c.record("id4".into(), "job3".into()); // the name now belongs to another container
        assert!(!c.contains("id3") && c.contains("id4"));
        c.forget_id("id4"); // pruned
        assert_eq!((c.len(), c.by_name.len()), (0, 0));
    }

    #[test]
    fn forgetting_an_unknown_reference_changes_nothing() {
        let mut c = Cancelled::default();
        c.record("id1".into(), "job".into());
        c.forget("other");
        c.forget_id("other");
        assert!(c.contains("id1"));
    }
}
