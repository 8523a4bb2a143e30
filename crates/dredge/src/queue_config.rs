//! The daemon config's `[queue]` section (README "Configuration", "Several daemons on
//! one PostgreSQL queue"): which queue backend the daemon keeps its runs and items in.
//!
//! sled (embedded, under `state_dir`) is the default and needs no section. PostgreSQL
//! is for a queue shared by several daemons; its URL is a secret like an account's
//! credentials (`url`, `url_env` or `url_file`, read once at load) and never reaches
//! an error, a log line or `Debug` output. The backend is chosen once, when the daemon
//! starts: a changed `[queue]` takes effect after a restart.

use std::ops::Range;
use std::path::Path;

use dredge_core::Secret;
use dredge_core::account::{Credential, SecretReader, Secrets};
use dredge_core::job::values::Bounded;
use dredge_core::secret::SecretText;
use serde::Deserialize;
use toml::Spanned;

/// The PostgreSQL schema dredge's tables live in unless `schema` says otherwise.
pub(crate) const DEFAULT_SCHEMA: &str = "dredge";
/// Connections each daemon keeps to PostgreSQL unless `pool_size` says otherwise.
pub(crate) const DEFAULT_POOL_SIZE: usize = 8;

/// `[queue]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    #[serde(default)]
    backend: Option<Spanned<Backend>>,
    url: Option<Spanned<SecretText>>,
    url_env: Option<Spanned<String>>,
    url_file: Option<Spanned<String>>,
    schema: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
    pool_size: Option<Spanned<Bounded<1, 64>>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Backend {
    #[default]
    Sled,
    Postgres,
}

/// Where the daemon keeps its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueConfig {
    /// `state_dir/queue`, embedded.
    Sled,
    Postgres(PostgresQueue),
}

/// A PostgreSQL queue, resolved: its URL read, its names checked.
#[derive(Debug, Clone)]
pub(crate) struct PostgresQueue {
    pub url: Secret,
    pub schema: String,
    /// This daemon's name in the cluster: the leases it holds are its own, and a
    /// restart under the same name takes them back at once.
    pub node: String,
    pub pool_size: usize,
}

impl PostgresQueue {
    /// What the queue crate opens the database with.
    pub(crate) fn options(&self) -> dredge_queue_postgres::PgOptions {
        dredge_queue_postgres::PgOptions {
            url: self.url.expose().to_string(),
            schema: self.schema.clone(),
            node: self.node.clone(),
            pool_size: self.pool_size,
        }
    }
}

impl PartialEq for PostgresQueue {
    fn eq(&self, other: &Self) -> bool {
        self.url.expose() == other.url.expose()
            && (&self.schema, &self.node, self.pool_size)
                == (&other.schema, &other.node, other.pool_size)
    }
}

impl Eq for PostgresQueue {}

impl QueueConfig {
    /// The backend's name as the README and `dredge status` spell it.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            QueueConfig::Sled => "sled",
            QueueConfig::Postgres(_) => "postgres",
        }
    }
}

/// What went wrong, and where (the span of the key at fault).
pub(crate) type QueueConfigError = (Option<Range<usize>>, String);

impl RawQueue {
    /// Checks the section and reads its URL. `state_dir` names the default node
    /// together with the host name, so two daemons on one machine differ.
    pub(crate) fn resolve(
        self,
        secrets: Secrets,
        state_dir: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<QueueConfig, QueueConfigError> {
        let backend = self
            .backend
            .as_ref()
            .map_or(Backend::Sled, |b| *b.get_ref());
        match backend {
            Backend::Sled => self.sled_only().map(|()| QueueConfig::Sled),
            Backend::Postgres => self.postgres(secrets, state_dir, warnings),
        }
    }

    /// sled takes no other key: a URL left in place would be ignored silently.
    fn sled_only(&self) -> Result<(), QueueConfigError> {
        let given = [
            ("url", self.url.as_ref().map(Spanned::span)),
            ("url_env", self.url_env.as_ref().map(Spanned::span)),
            ("url_file", self.url_file.as_ref().map(Spanned::span)),
            ("schema", self.schema.as_ref().map(Spanned::span)),
            ("node", self.node.as_ref().map(Spanned::span)),
            ("pool_size", self.pool_size.as_ref().map(Spanned::span)),
        ];
        match given.into_iter().find_map(|(k, s)| s.map(|s| (k, s))) {
            None => Ok(()),
            Some((key, span)) => Err((
                Some(span),
                format!(
                    "queue.{key} applies to backend = \"postgres\" only: remove it, or set backend = \"postgres\""
                ),
            )),
        }
    }

    fn postgres(
        self,
        secrets: Secrets,
        state_dir: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<QueueConfig, QueueConfigError> {
        let backend_span = self.backend.as_ref().map(Spanned::span);
        let url_span = [
            self.url.as_ref().map(Spanned::span),
            self.url_env.as_ref().map(Spanned::span),
            self.url_file.as_ref().map(Spanned::span),
        ]
        .into_iter()
        .flatten()
        .next();
        let given = Credential::new(
            self.url.map(Spanned::into_inner),
            self.url_env.map(Spanned::into_inner),
            self.url_file.map(Spanned::into_inner),
        );
        let mut reader = SecretReader::new(secrets);
        let url = reader
            .optional("url", given)
            .map_err(|m| (url_span.clone(), format!("queue.{m}")))?
            .ok_or_else(|| {
                (
                    backend_span,
                    "queue: backend = \"postgres\" needs the server's address: set url_env (or url_file, or url) to a URL such as postgres://dredge@db.internal/dredge".to_string(),
                )
            })?;
        warnings.extend(
            reader
                .into_warnings()
                .into_iter()
                .map(|w| format!("[queue]: {w}")),
        );
        if secrets == Secrets::Read && !is_postgres_url(url.expose()) {
            return Err((
                url_span,
                "queue.url: not a PostgreSQL URL: write postgres://USER@HOST[:PORT]/DATABASE (or postgresql://...)".into(),
            ));
        }
        let schema = match self.schema {
            None => DEFAULT_SCHEMA.to_string(),
            Some(s) => checked_schema(s)?,
        };
        let node = match self.node {
            None => default_node(state_dir),
            Some(n) => checked_node(n)?,
        };
        let pool_size = self
            .pool_size
            .map_or(DEFAULT_POOL_SIZE, |p| p.into_inner().get() as usize);
        Ok(QueueConfig::Postgres(PostgresQueue {
            url,
            schema,
            node,
            pool_size,
        }))
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A schema name dredge can write into SQL without quoting surprises: lowercase
/// letters, digits and `_`, not starting with a digit, at most 63 bytes (PostgreSQL's
/// identifier limit).
fn checked_schema(given: Spanned<String>) -> Result<String, QueueConfigError> {
    let span = given.span();
    let name = given.into_inner();
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 && !name.starts_with("pg_") {
        Ok(name)
    } else {
        Err((
            Some(span),
            format!(
                "queue.schema: {name:?} is not a schema name dredge uses: write lowercase letters, digits and _ (at most 63, not starting with a digit or pg_), e.g. \"dredge\""
            ),
        ))
    }
}

/// A node name shown in `dredge status`: printable, at most 100 characters.
fn checked_node(given: Spanned<String>) -> Result<String, QueueConfigError> {
    let span = given.span();
    let name = given.into_inner();
    let name = name.trim().to_string();
    if !name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control) {
        Ok(name)
    } else {
        Err((
            Some(span),
            "queue.node: give this daemon a name of 1 to 100 printable characters, unique in the cluster (default: the host name and state_dir)".into(),
        ))
    }
}

/// `HOST:STATE_DIR`: stable across restarts of one daemon, different for two daemons
/// on one machine (they cannot share a state_dir).
fn default_node(state_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", state_dir.display())
}

#[cfg(test)]
mod tests;
