//! Schedules through the real daemon: cron fires, one catch-up run after downtime
//! (`catch_up = "once"`) and none with `"skip"`, and `overlap = "skip"`.

use std::time::Duration;

use crate::autoextract_daemon::autoextract_account;
use crate::support::*;

fn scheduled_job(schedule: &str, catch_up: &str) -> String {
    format!(
        "vendor = \"autoextract\"\nschedule = \"{schedule}\"\ncatch_up = \"{catch_up}\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://www.a.com/1\", \"https://www.b.com/2\"]\n"
    )
}

fn catch_up_lines(h: &Harness, job: &str) -> usize {
    h.log()
        .lines()
        .filter(|l| l.contains("catch-up run") && l.contains(&format!("job={job}")))
        .count()
}

#[test]
fn cron_fires_and_downtime_is_caught_up_once_or_skipped() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    h.write_job("once.toml", &scheduled_job("*/2 * * * * *", "once"));
    h.write_job("skip.toml", &scheduled_job("*/2 * * * * *", "skip"));
    wait_until("two fires of each job", Duration::from_secs(30), || {
        h.runs("once").len() >= 2 && h.runs("skip").len() >= 2
    });
    assert!(h.stop().success());
    // Downtime spanning several fires (this wait is the scenario, not a guess).
    std::thread::sleep(Duration::from_secs(5));
    h.start();
    wait_until("the catch-up run", Duration::from_secs(10), || {
        catch_up_lines(&h, "once") == 1
    });
    assert_eq!(
        catch_up_lines(&h, "skip"),
        0,
        "catch_up = \"skip\" runs nothing for missed fires"
    );
    // Later fires are regular ones, never another catch-up.
    let before = h.runs("once").len();
    wait_until(
        "a regular fire after the restart",
        Duration::from_secs(15),
        || h.runs("once").len() > before,
    );
    assert_eq!(catch_up_lines(&h, "once"), 1);
}

#[test]
fn a_fire_during_an_active_run_is_skipped_and_runs_never_overlap() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 2_500,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    h.write_job("slow.toml", &scheduled_job("* * * * * *", "skip"));
    wait_until("a skipped fire", Duration::from_secs(30), || {
        let running = h
            .runs("slow")
            .iter()
            .filter(|r| r["state"] == "running")
            .count();
        assert!(running <= 1, "two runs of one job at once");
        h.log().contains("fire skipped")
    });
}
