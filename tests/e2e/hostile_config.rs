//! Values in a config or job file that used to panic or mislead: every one is an error
//! naming its file, line, column and key, from `dredge validate` and from the daemon
//! alike; what validates also starts.

use std::process::{Command, Output};
use std::time::Duration;

use crate::support::*;

fn dredge(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run dredge")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn config_with(dir: &std::path::Path, account: &str) -> String {
    let path = dir.join("dredge.toml");
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        &path,
        format!("state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/d.sock\"\n{account}"),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn an_absurd_rate_is_refused_by_validate_and_by_the_daemon_without_a_panic() {
    for rate in ["1e12", "1e-30"] {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with(
            dir.path(),
            &format!(
                "[accounts.zyte]\nvendor = \"autoextract\"\napi_key = \"k\"\nrequests_per_second = {rate}\n"
            ),
        );
        let out = dredge(&["validate", "--config", &config]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("dredge.toml:7:23: requests_per_second: "),
            "{}",
            text(&out)
        );
        let out = dredge(&["daemon", "--config", &config]);
        assert!(!out.status.success());
        assert!(
            text(&out).contains("requests_per_second: "),
            "{}",
            text(&out)
        );
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}

#[test]
fn a_duration_that_overflows_is_an_error_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("serp.toml");
    std::fs::write(
        &job,
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"a\"]\npoll_interval = \"18446744073709551615s\"\n",
    )
    .unwrap();
    let out = dredge(&["validate", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("serp.toml:5:17: poll_interval: "),
        "{}",
        text(&out)
    );
}

#[test]
fn one_broken_account_is_reported_alone_and_jobs_of_the_others_validate() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "[accounts.zyte]\nvendor = \"autoextract\"\napi_key = \"k\"\n\n[accounts.octo]\nvendor = \"octoparse\"\nusername = \"u\"\npassword_env = \"DREDGE_E2E_UNSET\"\n",
    );
    let job = dir.path().join("jobs/news.toml");
    std::fs::write(
        &job,
        "vendor = \"autoextract\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com/1\"]\n",
    )
    .unwrap();
    let out = dredge(&["validate", "--config", &config, job.to_str().unwrap()]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(
            "[accounts.octo]: password_env: the environment variable DREDGE_E2E_UNSET is not set"
        ),
        "{shown}"
    );
    assert!(
        !shown.contains("news.toml"),
        "the job of the good account is fine: {shown}"
    );
    assert!(!shown.contains("not configured"), "{shown}");
}

#[test]
fn no_secrets_checks_a_config_whose_credentials_are_not_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "[accounts.zyte]\nvendor = \"autoextract\"\napi_key_file = \"/run/credentials/dredge.service/zyte-e2e-absent\"\n",
    );
    let out = dredge(&["validate", "--config", &config]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = dredge(&["validate", "--no-secrets", "--config", &config]);
    assert!(out.status.success(), "{}", text(&out));
    // Everything else is still checked.
    let bad = config_with(
        dir.path(),
        "[accounts.zyte]\nvendor = \"autoextract\"\napi_key_file = \"/absent\"\nmax_concurrency = 0\n",
    );
    let out = dredge(&["validate", "--no-secrets", "--config", &bad]);
    assert!(
        text(&out).contains("max_concurrency: 0 is out of range"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_schedule_firing_every_second_validates_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("fast.toml");
    std::fs::write(
        &job,
        "vendor = \"autoextract\"\nschedule = \"* * * * * *\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com/1\"]\n",
    )
    .unwrap();
    let out = dredge(&["validate", job.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("fast.toml: warning: schedule: "),
        "{}",
        text(&out)
    );
}

#[test]
fn a_secret_file_every_user_may_read_is_warned_about_in_status_and_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("zyte-key");
    std::fs::write(&key, "k-never-shown\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.zyte]\nvendor = \"autoextract\"\nbase_url = \"http://127.0.0.1:9\"\napi_key_file = \"{}\"\n",
        key.display()
    ));
    h.start();
    let status = h.call("status", serde_json::json!({}));
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("api_key_file") && warnings.contains("readable by every user"),
        "{warnings}"
    );
    assert!(!warnings.contains("k-never-shown"));
    let out = h.cli(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("readable by every user"));
    assert!(h.log().contains("readable by every user"));
}

/// One account whose secret file is missing does not stop the daemon: the other
/// account's job runs, status names the broken account's problem (and its job's), the
/// log says it once, and a reload after the file appears brings the account and its
/// job up.
#[test]
fn a_broken_account_waits_apart_while_the_daemon_runs_the_others_and_a_reload_brings_it_up() {
    use crate::autoextract_daemon::urls;
    use std::os::unix::fs::PermissionsExt;

    let rt = runtime();
    let sim = autoextract_sim(&rt, with_faults(Default::default()), 5);
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("spare-key");
    let mut h = Harness::new(&format!(
        "[accounts.main]\nvendor = \"autoextract\"\nbase_url = \"{base}\"\napi_key = \"test-key\"\n\n[accounts.spare]\nvendor = \"autoextract\"\nbase_url = \"{base}\"\napi_key_file = \"{}\"\n",
        key.display(),
        base = sim.base_url(),
    ));
    h.start();
    let job = |name: &str, account: &str, urls: &[String]| {
        std::fs::write(h.path(&format!("jobs/{name}.txt")), urls.join("\n")).unwrap();
        h.write_job(
            &format!("{name}.toml"),
            &format!(
                "vendor = \"autoextract\"\naccount = \"{account}\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"{name}.txt\"\n"
            ),
        );
    };
    job("good", "main", &urls(12, 3));
    job("waiting", "spare", &urls(5, 1));
    let run = h.wait_run_end("good", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");

    let status = h.call("status", serde_json::json!({}));
    let accounts = status["accounts"].as_array().unwrap();
    let spare = accounts.iter().find(|a| a["name"] == "spare").unwrap();
    assert_eq!(spare["state"], "broken", "{status}");
    let problem = spare["detail"].as_str().unwrap();
    assert!(
        problem.contains("[accounts.spare]: api_key_file"),
        "{problem}"
    );
    assert!(problem.contains("spare-key"), "{problem}");
    let main = accounts.iter().find(|a| a["name"] == "main").unwrap();
    assert_eq!(main["state"], "ok", "{status}");
    let rejected = status["invalid_job_files"].to_string();
    assert!(
        rejected.contains("waiting.toml") && rejected.contains("account \\\"spare\\\" is broken"),
        "{rejected}"
    );
    assert!(rejected.contains("api_key_file"), "{rejected}");
    assert!(
        h.runs("waiting").is_empty(),
        "the broken account's job never started"
    );
    let shown = String::from_utf8_lossy(&h.cli(&["status"]).stdout).to_string();
    assert!(shown.contains("broken"), "{shown}");
    let logged = |h: &Harness| h.log().matches("account not started").count();
    assert_eq!(logged(&h), 1, "logged once:\n{}", h.log());

    std::fs::write(&key, "test-key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.call("reload", serde_json::json!({}));
    let run = h.wait_run_end("waiting", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    assert_eq!(lines.len(), 5, "every URL of the revived account's job");
    let status = h.call("status", serde_json::json!({}));
    let spare = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "spare")
        .cloned()
        .unwrap();
    assert_eq!(spare["state"], "ok", "{status}");
    assert_eq!(logged(&h), 1, "not logged again");
}
