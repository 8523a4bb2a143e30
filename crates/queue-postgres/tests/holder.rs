//! One daemon per node name on a schema: a second holder of the same node is refused,
//! naming it; another node shares the schema; the name is free again once the first
//! holder goes (as when its daemon dies).

mod support;

use dredge_queue::QueueError;
use dredge_queue_postgres::SchemaHolder;
use support::Schema;

#[test]
fn a_second_daemon_of_a_held_node_is_refused_naming_it_until_it_goes() {
    let schema = Schema::new();
    let first = SchemaHolder::take(&schema.node("worker-1")).expect("the first daemon holds it");
    let _second_node =
        SchemaHolder::take(&schema.node("worker-2")).expect("another node shares the schema");
    let refused = SchemaHolder::take(&schema.node("worker-1"))
        .err()
        .expect("a second holder is refused");
    let QueueError::SchemaInUse { .. } = &refused else {
        panic!("refused for the wrong reason: {refused}");
    };
    let said = refused.to_string();
    assert!(said.contains("\"worker-1\""), "{said}");
    assert!(said.contains(&schema.0.schema), "{said}");

    // Another schema on the same server is free.
    let other = Schema::new();
    let _beside = SchemaHolder::take(&other.node("worker-1")).expect("another schema is free");

    drop(first);
    // The server frees the lock when the holder's session ends, a moment after the
    // client closed it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match SchemaHolder::take(&schema.node("worker-1")) {
            Ok(_) => break,
            Err(QueueError::SchemaInUse { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("the schema was not freed when its holder went: {e}"),
        }
    }
}

#[test]
fn a_server_that_may_lose_commits_is_reported() {
    let schema = Schema::new();
    let safe = SchemaHolder::take(&schema.node("worker-1")).unwrap();
    assert!(safe.warnings().is_empty(), "{:?}", safe.warnings());
    drop(safe);
    let other = Schema::new();
    let mut options = other.node("worker-1");
    let separator = if options.url.contains('?') { '&' } else { '?' };
    options.url = format!(
        "{}{separator}options=-c%20synchronous_commit%3Doff",
        options.url
    );
    let unsafe_holder = SchemaHolder::take(&options).unwrap();
    let said = unsafe_holder.warnings().join("\n");
    assert!(said.contains("synchronous_commit = off"), "{said}");
}
