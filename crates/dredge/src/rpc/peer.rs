//! Who may talk to the daemon, and how much: root, the daemon's own user and members
//! of the control group (by default the socket file's group) may call every method;
//! members of the status group only the read-only ones. Identities come from
//! SO_PEERCRED; supplementary groups from `/proc/PID/status`, since the crate forbids
//! the `unsafe` a `getgrouplist` call would need.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use tokio::net::UnixStream;

/// The rule, fixed when serving starts except for the socket's group, which is
/// read per connection so a `chgrp` by the operator takes effect.
#[derive(Debug, Clone)]
pub(super) struct Policy {
    pub daemon_uid: Option<u32>,
    pub socket_path: Option<PathBuf>,
    pub groups: Groups,
}

/// The groups named in the config; `None`: not configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Groups {
    /// Every method. Not configured: the socket file's group.
    pub control: Option<u32>,
    /// Read-only methods.
    pub status: Option<u32>,
}

/// What an admitted peer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Control,
    ReadOnly,
}

/// A peer's identity as far as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeerIds {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups; empty when they could not be read.
    pub groups: Vec<u32>,
}

impl Policy {
    pub(super) fn new(socket_path: Option<PathBuf>, groups: Groups) -> Self {
        Policy {
            daemon_uid: own_uid(),
            socket_path,
            groups,
        }
    }

    /// What the peer on `stream` may do; `Err` says why it may do nothing.
    pub(super) fn admit(&self, stream: &UnixStream) -> Result<Access, String> {
        let cred = stream
            .peer_cred()
            .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
        let rule = Rule {
            daemon_uid: self.daemon_uid,
            control_gid: self.groups.control.or_else(|| self.socket_gid()),
            status_gid: self.groups.status,
        };
        let mut peer = PeerIds {
            uid: cred.uid(),
            gid: cred.gid(),
            groups: Vec::new(),
        };
        // Reading /proc only when uid and primary gid did not already decide.
        if rule.access(&peer) != Some(Access::Control)
            && let Some(pid) = cred.pid()
        {
            peer.groups = supplementary_groups(pid);
        }
        rule.access(&peer).ok_or_else(|| {
            format!(
                "permission denied: uid {} is not root, not the daemon's user and in neither the control group nor the status group",
                peer.uid
            )
        })
    }

    fn socket_gid(&self) -> Option<u32> {
        let path = self.socket_path.as_ref()?;
        std::fs::metadata(path).ok().map(|m| m.gid())
    }
}

/// The rule itself, with every group resolved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub daemon_uid: Option<u32>,
    pub control_gid: Option<u32>,
    pub status_gid: Option<u32>,
}

impl Rule {
    pub(super) fn access(&self, peer: &PeerIds) -> Option<Access> {
        let member =
            |gid: Option<u32>| gid.is_some_and(|g| peer.gid == g || peer.groups.contains(&g));
        if peer.uid == 0 || Some(peer.uid) == self.daemon_uid || member(self.control_gid) {
            Some(Access::Control)
        } else if member(self.status_gid) {
            Some(Access::ReadOnly)
        } else {
            None
        }
    }
}

/// The old rule's shape, for tests: control through the socket's group only.
#[cfg(test)]
pub(super) fn allowed(peer: &PeerIds, daemon_uid: Option<u32>, socket_gid: Option<u32>) -> bool {
    let rule = Rule {
        daemon_uid,
        control_gid: socket_gid,
        status_gid: None,
    };
    rule.access(peer).is_some()
}

/// The daemon's effective uid.
fn own_uid() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    // "Uid:" lists real, effective, saved and filesystem uids.
    status_ids(&text, "Uid:")?.get(1).copied()
}

fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| status_ids(&text, "Groups:"))
        .unwrap_or_default()
}

/// The numbers on the `/proc/PID/status` line starting with `key`.
fn status_ids(text: &str, key: &str) -> Option<Vec<u32>> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> PeerIds {
        PeerIds {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn root_and_the_daemon_user_are_allowed() {
        assert!(allowed(&peer(0, 0, &[]), Some(500), None));
        assert!(allowed(&peer(500, 500, &[]), Some(500), None));
    }

    #[test]
    fn members_of_the_socket_group_are_allowed_by_primary_or_supplementary_gid() {
        assert!(allowed(&peer(1000, 77, &[]), Some(500), Some(77)));
        assert!(allowed(&peer(1000, 1000, &[4, 77]), Some(500), Some(77)));
    }

    #[test]
    fn other_users_are_refused() {
        assert!(!allowed(&peer(1000, 1000, &[4, 24]), Some(500), Some(77)));
        assert!(!allowed(&peer(1000, 77, &[]), Some(500), None));
    }

    #[test]
    fn the_status_group_may_read_and_the_control_group_may_do_everything() {
        let rule = Rule {
            daemon_uid: Some(500),
            control_gid: Some(77),
            status_gid: Some(88),
        };
        assert_eq!(rule.access(&peer(1000, 77, &[])), Some(Access::Control));
        assert_eq!(
            rule.access(&peer(1000, 1000, &[88])),
            Some(Access::ReadOnly)
        );
        assert_eq!(
            rule.access(&peer(1000, 1000, &[88, 77])),
            Some(Access::Control)
        );
        assert_eq!(rule.access(&peer(0, 0, &[])), Some(Access::Control));
        assert_eq!(rule.access(&peer(1000, 1000, &[5])), None);
    }

    #[test]
    fn proc_status_lines_are_parsed() {
        let text = "Name:\tx\nUid:\t1000\t1001\t1000\t1000\nGid:\t5\t5\t5\t5\nGroups:\t4 24 27 \n";
        assert_eq!(status_ids(text, "Uid:"), Some(vec![1000, 1001, 1000, 1000]));
        assert_eq!(status_ids(text, "Groups:"), Some(vec![4, 24, 27]));
        assert_eq!(status_ids("Groups:\t\n", "Groups:"), Some(vec![]));
        assert_eq!(status_ids(text, "Missing:"), None);
    }

    #[test]
    fn this_process_uid_is_readable() {
        assert!(own_uid().is_some());
    }
}
