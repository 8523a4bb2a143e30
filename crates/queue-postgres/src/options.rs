//! How to reach dredge's PostgreSQL queue, and how it is shown: the URL is a secret
//! (it may hold a password), so `Debug` and every error show it with the password
//! replaced.

use std::fmt;

/// Where the queue lives and who this daemon is.
#[derive(Clone)]
pub struct PgOptions {
    /// A `postgres://` URL (or key=value connection string). Secret: never shown whole.
    pub url: String,
    /// The PostgreSQL schema holding dredge's tables; default `dredge`.
    pub schema: String,
    /// This daemon's stable id: a reopen with the same node reverts its own leases.
    pub node: String,
    /// Connections in the pool; default 8.
    pub pool_size: usize,
}

impl PgOptions {
    /// Options with the defaults for `url`: schema `dredge`, node = the host name,
    /// 8 connections.
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            schema: "dredge".into(),
            node: default_node(),
            pool_size: 8,
        }
    }

    /// The URL with its password replaced, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.redacted_url())
            .field("schema", &self.schema)
            .field("node", &self.node)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The host name, or `dredge` when it cannot be read.
fn default_node() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "dredge".into())
}

/// A URL with any password replaced by `***`; a string that is no URL (a key=value
/// connection string) is not shown at all, since it may hold `password=`.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(a connection string, not shown)".into(),
    }
}

/// A schema name dredge can put into SQL as it is: lowercase letters, digits and `_`,
/// not starting with a digit, at most 63 bytes.
pub(crate) fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && schema.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_redacted_url_hide_the_password() {
        let options = PgOptions::new("postgres://dredge:hunter2@db.example:5432/q");
        let shown = format!("{options:?} {}", options.redacted_url());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("dredge:***@db.example"), "{shown}");
        let kv = PgOptions::new("host=db password=hunter2");
        assert!(!format!("{kv:?}").contains("hunter2"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("dredge"));
        assert!(valid_schema("t_12_3"));
        for bad in ["", "1abc", "Dredge", "a-b", "a;drop", "a b"] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }
}
