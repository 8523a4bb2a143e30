//! Who may talk to the daemon (SPEC §6): root, the daemon's own user, or a member
//! of the socket file's group. Identities come from SO_PEERCRED; supplementary
//! groups from `/proc/PID/status`, since the crate forbids the `unsafe` a
//! `getgrouplist` call would need.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use tokio::net::UnixStream;

/// The rule, fixed when serving starts except for the socket's group, which is
/// read per connection so a `chgrp` by the operator takes effect.
#[derive(Debug, Clone)]
pub struct Policy {
    pub daemon_uid: Option<u32>,
    pub socket_path: Option<PathBuf>,
}

/// A peer's identity as far as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIds {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups; empty when they could not be read.
    pub groups: Vec<u32>,
}

impl Policy {
    pub fn new(socket_path: Option<PathBuf>) -> Self {
        Policy {
            daemon_uid: own_uid(),
            socket_path,
        }
    }

    /// Whether the peer on `stream` may send requests; `Err` says why not.
    pub fn admit(&self, stream: &UnixStream) -> Result<(), String> {
        let cred = stream
            .peer_cred()
            .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
        let socket_gid = self.socket_gid();
        let mut peer = PeerIds {
            uid: cred.uid(),
            gid: cred.gid(),
            groups: Vec::new(),
        };
        // Reading /proc only when uid and primary gid did not already decide.
        if !allowed(&peer, self.daemon_uid, socket_gid)
            && let Some(pid) = cred.pid()
        {
            peer.groups = supplementary_groups(pid);
        }
        if allowed(&peer, self.daemon_uid, socket_gid) {
            Ok(())
        } else {
            Err(format!(
                "permission denied: uid {} is not root, not the daemon's user and not in the socket's group",
                peer.uid
            ))
        }
    }

    fn socket_gid(&self) -> Option<u32> {
        let path = self.socket_path.as_ref()?;
        std::fs::metadata(path).ok().map(|m| m.gid())
    }
}

/// The rule itself.
pub fn allowed(peer: &PeerIds, daemon_uid: Option<u32>, socket_gid: Option<u32>) -> bool {
    if peer.uid == 0 || Some(peer.uid) == daemon_uid {
        return true;
    }
    match socket_gid {
        Some(gid) => peer.gid == gid || peer.groups.contains(&gid),
        None => false,
    }
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
