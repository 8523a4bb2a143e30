//! The schema's versions: created on a fresh database, left alone when current, and a
//! database written by a newer dredge refused with a message saying so.

mod support;

use std::sync::Arc;

use dredge_queue::{QueueBackend, QueueError};
use dredge_queue_postgres::{
    MigrationStatus, PgOptions, PgQueue, SCHEMA_VERSION, migrate, migration_status,
};
use support::{Schema, items, new_run};

#[test]
fn a_fresh_schema_is_created_and_a_second_open_finds_it_current_with_its_data() {
    let schema = Schema::new();
    assert_eq!(
        migration_status(&schema.0).unwrap(),
        MigrationStatus::Missing
    );
    let (q, _) = schema.open("a");
    let run = q.create_run(new_run("j", "l"), items(2)).unwrap();
    drop(q);
    let current = MigrationStatus::Current {
        version: SCHEMA_VERSION,
    };
    assert_eq!(migration_status(&schema.0).unwrap(), current);
    assert_eq!(migrate(&schema.0).unwrap(), current, "nothing to apply");
    let (q, _) = schema.open("a");
    assert_eq!(q.run(&run).unwrap().unwrap().counts.ready, 2);
}

#[test]
fn a_database_written_by_a_newer_dredge_is_refused_with_what_to_do() {
    let schema = Schema::new();
    drop(schema.open("a"));
    let newer = SCHEMA_VERSION + 1;
    schema.execute(&format!("UPDATE schema_version SET version = {newer}"));
    assert_eq!(
        migration_status(&schema.0).unwrap(),
        MigrationStatus::Newer {
            database: newer,
            binary: SCHEMA_VERSION
        }
    );
    let error = match PgQueue::open(schema.0.clone()) {
        Err(error) => error,
        Ok(_) => panic!("a newer schema was opened"),
    };
    assert!(
        matches!(error, QueueError::SchemaNewer { database, binary } if database == newer && binary == SCHEMA_VERSION),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("newer dredge"), "{text}");
    assert!(text.contains(&format!("schema version {newer}")), "{text}");
    assert!(text.contains("upgrade dredge"), "{text}");
    assert!(migrate(&schema.0).is_err(), "migrate refuses it too");
}

#[test]
fn an_unreachable_server_is_a_connect_error_that_hides_the_password() {
    let options = PgOptions {
        url: "postgres://dredge:hunter2@127.0.0.1:1/test".into(),
        ..PgOptions::new("")
    };
    let error = match PgQueue::open(options) {
        Err(error) => error,
        Ok(_) => panic!("nothing listens on port 1"),
    };
    let text = format!("{error} {error:?}");
    assert!(matches!(error, QueueError::Connect { .. }), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
}

#[test]
fn a_schema_name_that_is_no_plain_identifier_is_refused() {
    let options = PgOptions {
        schema: "x; DROP TABLE y".into(),
        ..PgOptions::new(support::url())
    };
    let error = migration_status(&options).unwrap_err();
    assert!(matches!(error, QueueError::BadSchemaName { .. }), "{error}");
}

#[test]
fn daemons_opening_a_fresh_database_together_migrate_it_once() {
    let schema = Arc::new(Schema::new());
    let opens: Vec<_> = (0..4)
        .map(|n| {
            let schema = schema.clone();
            std::thread::spawn(move || PgQueue::open(schema.node(&format!("n{n}"))).map(|_| ()))
        })
        .collect();
    for open in opens {
        open.join().unwrap().expect("every daemon opens");
    }
    assert_eq!(
        migration_status(&schema.0).unwrap(),
        MigrationStatus::Current {
            version: SCHEMA_VERSION
        }
    );
}
