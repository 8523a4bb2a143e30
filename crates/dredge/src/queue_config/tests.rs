use std::path::Path;

use dredge_core::FileError;

use super::{DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, QueueConfig};
use crate::config::DaemonConfig;

fn parse(text: &str) -> Result<DaemonConfig, FileError> {
    DaemonConfig::parse(Path::new("/etc/dredge/dredge.toml"), text)
}

fn error(text: &str) -> FileError {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {:?}", c.queue),
        Err(e) => e,
    }
}

#[test]
fn without_a_queue_section_the_queue_is_sled() {
    let c = parse("state_dir = \"/var/lib/dredge\"\n").unwrap();
    assert_eq!(c.queue, QueueConfig::Sled);
    let c = parse("[queue]\nbackend = \"sled\"\n").unwrap();
    assert_eq!(c.queue, QueueConfig::Sled);
}

#[test]
fn a_postgres_queue_reads_its_url_and_takes_the_defaults() {
    let text = "state_dir = \"/srv/a\"\n[queue]\nbackend = \"postgres\"\nurl = \"postgres://dredge@127.0.0.1/test\"\n";
    let QueueConfig::Postgres(pg) = parse(text).unwrap().queue else {
        panic!("a PostgreSQL queue");
    };
    assert_eq!(pg.url.expose(), "postgres://dredge@127.0.0.1/test");
    assert_eq!(pg.schema, DEFAULT_SCHEMA);
    assert_eq!(pg.pool_size, DEFAULT_POOL_SIZE);
    assert!(pg.node.ends_with(":/srv/a"), "{}", pg.node);
}

#[test]
fn a_postgres_queue_takes_its_schema_node_and_pool_size() {
    let text = "[queue]\nbackend = \"postgres\"\nurl = \"postgresql://h/db\"\nschema = \"dredge_eu\"\nnode = \"worker-2\"\npool_size = 3\n";
    let QueueConfig::Postgres(pg) = parse(text).unwrap().queue else {
        panic!("a PostgreSQL queue");
    };
    assert_eq!(
        (pg.schema.as_str(), pg.node.as_str(), pg.pool_size),
        ("dredge_eu", "worker-2", 3)
    );
}

#[test]
fn a_postgres_queue_without_a_url_says_which_keys_give_one() {
    let e = error("[queue]\nbackend = \"postgres\"\n");
    assert_eq!(e.position, Some((2, 11)), "{e}");
    assert!(e.message.contains("set url_env"), "{e}");
}

#[test]
fn a_url_on_the_sled_backend_is_refused_not_ignored() {
    let e = error("[queue]\nurl = \"postgres://h/db\"\n");
    assert_eq!(e.position, Some((2, 7)), "{e}");
    assert!(
        e.message
            .starts_with("queue.url applies to backend = \"postgres\" only"),
        "{e}"
    );
    let e = error("[queue]\nbackend = \"sled\"\nschema = \"x\"\n");
    assert!(e.message.starts_with("queue.schema applies"), "{e}");
}

#[test]
fn a_schema_that_is_not_a_plain_identifier_is_refused_at_its_key() {
    for bad in ["Dredge", "1abc", "a-b", "pg_temp", "a\\\"; drop", ""] {
        let text = format!(
            "[queue]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nschema = \"{bad}\"\n"
        );
        let e = error(&text);
        assert_eq!(e.position.map(|p| p.0), Some(4), "{bad}: {e}");
        assert!(e.message.starts_with("queue.schema:"), "{bad}: {e}");
    }
}

#[test]
fn an_unknown_key_or_backend_is_refused_with_its_place() {
    let e = error("[queue]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nshema = \"x\"\n");
    assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
    assert!(e.message.contains("shema"), "{e}");
    let e = error("[queue]\nbackend = \"redis\"\n");
    assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    assert!(e.message.contains("redis"), "{e}");
}

#[test]
fn the_url_is_a_secret_given_once() {
    let e = error("[queue]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nurl_env = \"PG\"\n");
    assert!(
        e.message
            .contains("give only one of url, url_env and url_file"),
        "{e}"
    );
    let e = error(
        "[queue]\nbackend = \"postgres\"\nurl_env = \"DREDGE_TEST_QUEUE_URL_THAT_IS_NOT_SET\"\n",
    );
    assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    assert!(e.message.starts_with("queue.url_env:"), "{e}");
}

#[test]
fn the_url_never_reaches_an_error_or_debug_output() {
    let password = "hunter2-pg";
    let e = error(&format!(
        "[queue]\nbackend = \"postgres\"\nurl = \"mysql://me:{password}@h/db\"\n"
    ));
    assert!(e.message.contains("not a PostgreSQL URL"), "{e}");
    assert!(!e.to_string().contains(password), "{e}");
    let c = parse(&format!(
        "[queue]\nbackend = \"postgres\"\nurl = \"postgres://me:{password}@h/db\"\n"
    ))
    .unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("Postgres"), "{shown}");
    assert!(!shown.contains(password), "{shown}");
}

#[test]
fn a_url_file_is_read_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-url");
    std::fs::write(&file, "postgres://dredge@127.0.0.1:5432/test\n").unwrap();
    let text = format!("[queue]\nbackend = \"postgres\"\nurl_file = {file:?}\n");
    let QueueConfig::Postgres(pg) = parse(&text).unwrap().queue else {
        panic!("a PostgreSQL queue");
    };
    assert_eq!(pg.url.expose(), "postgres://dredge@127.0.0.1:5432/test");
}
