use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

fn counts(ready: u64, done: u64, dead: u64) -> ItemCounts {
    ItemCounts {
        ready,
        done,
        dead,
        ..ItemCounts::default()
    }
}

fn sample_status() -> StatusInfo {
    StatusInfo {
        version: "0.1.0".into(),
        pid: 4242,
        uptime_secs: 3 * 3600 + 12 * 60,
        state_dir: "/var/lib/dredge".into(),
        jobs_dir: "/etc/dredge/jobs.d".into(),
        queue: counts(3, 120, 1),
        runs_active: 1,
        jobs: 2,
        accounts: vec![
            AccountStatus {
                name: "octo-main".into(),
                vendor: "octoparse".into(),
                state: "auth_failed".into(),
                detail: Some("credentials rejected after a fresh login".into()),
                until: None,
                in_flight: 0,
            },
            AccountStatus {
                name: "zyte".into(),
                vendor: "autoextract".into(),
                state: "snoozed".into(),
                detail: Some("domain occupied".into()),
                until: Some("2026-11-23T12:00:30Z".into()),
                in_flight: 2,
            },
        ],
        invalid_job_files: vec![InvalidJobFile {
            path: "/etc/dredge/jobs.d/bad.toml".into(),
            error: "/etc/dredge/jobs.d/bad.toml:3:1: unknown field `urlz`".into(),
        }],
        storage: None,
        queue_backend: None,
        cluster: None,
        warnings: Vec::new(),
    }
}

#[test]
fn status_shows_health_accounts_and_invalid_files_last() {
    let out = status(&sample_status(), now());
    let expected = "\
dredge 0.1.0  pid 4242  up 3h12m
state dir  /var/lib/dredge
jobs dir   /etc/dredge/jobs.d
jobs 2  active runs 1
queue      ready 3  leased 0  snoozed 0  staged 0  done 120  dead 1

ACCOUNT    VENDOR       STATE        IN FLIGHT  DETAIL
octo-main  octoparse    auth_failed  0          credentials rejected after a fresh login
zyte       autoextract  snoozed      2          domain occupied (until in 30s)

invalid job files (1):
  /etc/dredge/jobs.d/bad.toml:3:1: unknown field `urlz`
";
    assert_eq!(out, expected);
}

#[test]
fn status_names_the_queue_backend_never_its_url() {
    let mut s = sample_status();
    s.queue_backend = Some(QueueBackendStatus {
        backend: "postgres".into(),
        schema: Some("dredge".into()),
        node: Some("worker-1".into()),
    });
    let out = status(&s, now());
    assert!(
        out.contains(
            "state dir  /var/lib/dredge\nqueue on   postgres schema dredge, node worker-1\njobs dir"
        ),
        "{out}"
    );
    s.queue_backend = Some(QueueBackendStatus {
        backend: "sled".into(),
        schema: None,
        node: None,
    });
    assert!(status(&s, now()).contains("\nqueue on   sled\n"));
}

#[test]
fn a_storage_fault_is_the_second_line_of_status_with_what_happens_next() {
    let mut s = sample_status();
    s.storage = Some(crate::protocol::StorageStatus {
        state: "disk_full".into(),
        detail: "writing the output of run R:\nNo space left on device (os error 28)".into(),
        since: "2026-11-22T11:00:00Z".into(),
    });
    let out = status(&s, now());
    let second = out.lines().nth(1).unwrap();
    assert!(
        second.starts_with("STORAGE    disk_full since "),
        "{second}"
    );
    assert!(
        second.contains(": writing the output of run R: No space left on device (os error 28) (nothing is leased; resumes by itself once writes succeed)"),
        "{second}"
    );
}

#[test]
fn invalid_file_errors_without_their_path_get_it_prefixed_and_every_line_indented() {
    let out = invalid_files(&[InvalidJobFile {
        path: "jobs.d/x.toml".into(),
        error: "cannot read: permission denied\nsecond line".into(),
    }]);
    assert_eq!(
        out,
        "invalid job files (1):\n  jobs.d/x.toml: cannot read: permission denied\n  second line\n"
    );
}

#[test]
fn runs_show_progress_records_times_and_output() {
    let run = RunSummary {
        id: "20261123T110000Z-0001".into(),
        job: "weather".into(),
        state: "running".into(),
        items: counts(2, 8, 1),
        records: 480,
        output: "/var/lib/dredge/out/weather/20261123T110000Z-0001.jsonl.partial".into(),
        started_at: "2026-11-23T11:00:00Z".into(),
        finished_at: None,
        reason: None,
    };
    let done = RunSummary {
        id: "20261122T110000Z-0001".into(),
        state: "succeeded".into(),
        items: counts(0, 10, 0),
        finished_at: Some("2026-11-22T11:05:00Z".into()),
        started_at: "2026-11-22T11:00:00Z".into(),
        output: "/o/w/20261122T110000Z-0001.jsonl".into(),
        ..run.clone()
    };
    let out = runs(&[run, done], now());
    let expected = "\
RUN                    JOB      STATE      DONE   READY  LEASED  SNOOZED  DEAD  RECORDS  STARTED   FINISHED  OUTPUT
20261123T110000Z-0001  weather  running    8/11   2      0       0        1     480      1h ago    -         /var/lib/dredge/out/weather/20261123T110000Z-0001.jsonl.partial
20261122T110000Z-0001  weather  succeeded  10/10  0      0       0        0     480      1d1h ago  1d ago    /o/w/20261122T110000Z-0001.jsonl
";
    assert_eq!(out, expected);
}

#[test]
fn dead_items_show_what_failed_and_the_last_error_on_one_line() {
    let out = dead(&[DeadItemInfo {
        run: "20261123T110000Z-0001".into(),
        job: "shop".into(),
        what: "https://example.com/p/1".into(),
        error: "HTTP 404:\n  not found".into(),
        attempts: 1,
    }]);
    let expected = "\
RUN                    JOB   ATTEMPTS  WHAT                     LAST ERROR
20261123T110000Z-0001  shop  1         https://example.com/p/1  HTTP 404: not found
";
    assert_eq!(out, expected);
}

#[test]
fn jobs_without_schedule_say_they_run_on_change() {
    let out = jobs(
        &[JobInfo {
            name: "once".into(),
            vendor: "wds".into(),
            account: "wds".into(),
            schedule: None,
            next_fire: None,
            last_run: Some("2026-11-23T11:59:00Z".into()),
            state: "idle".into(),
            file: "/etc/dredge/jobs.d/once.toml".into(),
        }],
        now(),
    );
    assert_eq!(
        out,
        "JOB   VENDOR  ACCOUNT  SCHEDULE   NEXT FIRE  LAST RUN  STATE\nonce  wds     wds      on change  -          1m ago    idle\n"
    );
}

#[test]
fn empty_lists_say_so() {
    assert_eq!(runs(&[], now()), "no runs\n");
    assert_eq!(dead(&[]), "no dead items\n");
    assert_eq!(jobs(&[], now()), "no jobs\n");
}

#[test]
fn status_lists_the_cluster_with_this_daemon_marked_and_the_runs_each_writes() {
    let mut s = sample_status();
    let node = |name: &str, this: bool, writes: &[&str]| crate::protocol::NodeStatus {
        node: name.into(),
        host: "host-1".into(),
        pid: 7,
        started_at: "2026-11-23T11:00:00Z".into(),
        heartbeat_at: "2026-11-23T11:59:59Z".into(),
        this,
        writes: writes.iter().map(|w| w.to_string()).collect(),
    };
    s.cluster = Some(crate::protocol::ClusterStatus {
        share: "1/2".into(),
        nodes: vec![node("a", false, &["r1", "r2"]), node("b", true, &[])],
    });
    let out = status(&s, now());
    let expected = "\
cluster    2 daemons; this one takes 1/2 of each account's limits
NODE  HOST    PID  STARTED  HEARTBEAT  WRITES
a     host-1  7    1h ago   1s ago     r1 r2
b *   host-1  7    1h ago   1s ago     -
";
    assert!(out.contains(expected), "{out}");
}
