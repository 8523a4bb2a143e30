//! Process limits the daemon sets for itself at start.

/// Raise the soft open-files limit to the hard limit. systemd gives a service a soft
/// limit of 1024 by default (hard 524288): every status-socket connection, callback,
/// vendor connection and sled file takes a descriptor, and running out would make the
/// daemon refuse `dredge status` itself.
pub(crate) fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open files limit"),
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
}
