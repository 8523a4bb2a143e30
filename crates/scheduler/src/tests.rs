//! The timing rules of README "Job files" (`schedule`, `catch_up`), one per test.

use super::*;

const HOUR: u64 = 3_600_000;

fn schedule(s: &str) -> Schedule {
    Schedule::try_from(s.to_string()).unwrap()
}

fn at(ms: u64) -> UnixMillis {
    UnixMillis(ms)
}

#[test]
fn a_new_job_fires_at_its_next_scheduled_time_not_at_once() {
    let mut t = Timetable::new();
    t.upsert(
        "j",
        schedule("0 * * * *"),
        CatchUp::Once,
        None,
        at(10 * HOUR + 5),
    );
    assert_eq!(t.next_wakeup(), Some(at(11 * HOUR)));
    assert!(t.take_due(at(11 * HOUR - 1)).is_empty());
    let due = t.take_due(at(11 * HOUR));
    assert_eq!(
        due,
        vec![Fire {
            job: "j".into(),
            at: at(11 * HOUR),
            catch_up: false
        }]
    );
    assert_eq!(t.next_wakeup(), Some(at(12 * HOUR)));
}

#[test]
fn catch_up_once_runs_one_fire_for_all_missed_fires() {
    let mut t = Timetable::new();
    // Last fire at 02:00, daemon back at 07:30: fires at 03..07 were missed.
    t.upsert(
        "j",
        schedule("0 * * * *"),
        CatchUp::Once,
        Some(at(2 * HOUR)),
        at(7 * HOUR + HOUR / 2),
    );
    let due = t.take_due(at(7 * HOUR + HOUR / 2));
    assert_eq!(due.len(), 1, "one run for all missed fires");
    assert_eq!(
        due[0].at,
        at(7 * HOUR),
        "it stands for the latest missed fire"
    );
    assert!(due[0].catch_up);
    assert!(t.take_due(at(7 * HOUR + HOUR / 2)).is_empty());
    assert_eq!(t.next_wakeup(), Some(at(8 * HOUR)));
}

#[test]
fn catch_up_skip_waits_for_the_next_fire() {
    let mut t = Timetable::new();
    t.upsert(
        "j",
        schedule("0 * * * *"),
        CatchUp::Skip,
        Some(at(2 * HOUR)),
        at(7 * HOUR + 1),
    );
    assert!(t.take_due(at(7 * HOUR + 1)).is_empty());
    assert_eq!(t.next_wakeup(), Some(at(8 * HOUR)));
}

#[test]
fn no_catch_up_when_nothing_was_missed() {
    let mut t = Timetable::new();
    t.upsert(
        "j",
        schedule("0 * * * *"),
        CatchUp::Once,
        Some(at(7 * HOUR)),
        at(7 * HOUR + 10),
    );
    assert!(t.take_due(at(7 * HOUR + 10)).is_empty());
}

#[test]
fn a_late_wakeup_collapses_several_fires_into_one() {
    let mut t = Timetable::new();
    t.upsert("j", schedule("*/10 * * * * *"), CatchUp::Once, None, at(0));
    let due = t.take_due(at(60_000));
    assert_eq!(due.len(), 1);
    assert_eq!(t.next_wakeup(), Some(at(70_000)));
}

#[test]
fn removed_jobs_never_fire() {
    let mut t = Timetable::new();
    t.upsert("j", schedule("@hourly"), CatchUp::Once, None, at(0));
    t.remove("j");
    assert_eq!(t.next_wakeup(), None);
    assert!(t.take_due(at(10 * HOUR)).is_empty());
}

#[test]
fn the_earliest_job_sets_the_wakeup() {
    let mut t = Timetable::new();
    t.upsert("daily", schedule("@daily"), CatchUp::Once, None, at(1));
    t.upsert("hourly", schedule("@hourly"), CatchUp::Once, None, at(1));
    assert_eq!(t.next_wakeup(), Some(at(HOUR)));
    assert_eq!(t.next_fire("daily"), Some(at(24 * HOUR)));
}

#[test]
fn six_field_cron_fires_on_seconds() {
    let mut t = Timetable::new();
    t.upsert("j", schedule("30 * * * * *"), CatchUp::Once, None, at(0));
    assert_eq!(t.next_wakeup(), Some(at(30_000)));
}
