//! Creating the socket file: parent directory, stale-socket takeover (probe by
//! connecting; remove only if nobody answers, as README "Commands and the status
//! socket" promises), mode 0660 and group.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use tokio::net::UnixListener;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BindError {
    #[error("another dredge daemon is already serving {0}")]
    AlreadyServing(String),
    #[error("{0} exists and is not a socket; remove it or set another `socket` in the config")]
    NotASocket(String),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// Binds the status socket at `path`, taking over a stale socket file, with mode
/// 0660 and, when given, group `gid`. Must run inside a tokio runtime.
pub(crate) fn bind(path: &Path, gid: Option<u32>) -> Result<UnixListener, BindError> {
    let io = |what| {
        move |source| BindError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create the directory of"))?;
    }
    take_over_stale(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(io("listen on"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(io("set mode 0660 on"))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io("change the group of"))?;
    }
    listener.set_nonblocking(true).map_err(io("configure"))?;
    UnixListener::from_std(listener).map_err(io("register"))
}

/// Removes a socket file nobody answers on; refuses a live one or a non-socket.
fn take_over_stale(path: &Path) -> Result<(), BindError> {
    let shown = || path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BindError::Io {
                what: "inspect",
                path: shown(),
                source,
            });
        }
        Ok(meta) if !meta.file_type().is_socket() => return Err(BindError::NotASocket(shown())),
        Ok(_) => {}
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(BindError::AlreadyServing(shown())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => match std::fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(BindError::Io {
                what: "remove the stale socket",
                path: shown(),
                source: e,
            }),
            _ => {
                tracing::info!(socket = %shown(), "took over a stale socket file");
                Ok(())
            }
        },
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BindError::Io {
            what: "probe the existing socket",
            path: shown(),
            source,
        }),
    }
}
