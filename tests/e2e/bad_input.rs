//! Bad job files: one clear error each in `status` (file and line), and the daemon and
//! the valid jobs beside them keep running.

use std::time::Duration;

use serde_json::json;

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

const BAD: &[(&str, &str, &str)] = &[
    (
        "bad-toml.toml",
        "vendor = \"autoextract\"\n[autoextract\n",
        "bad-toml.toml:2:",
    ),
    (
        "unknown-key.toml",
        "vendor = \"autoextract\"\ncolour = \"red\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://a.com\"]\n",
        "unknown-key.toml:2:1:",
    ),
    (
        "bad-cron.toml",
        "vendor = \"autoextract\"\nschedule = \"61 * * * *\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://a.com\"]\n",
        "bad-cron.toml:2:12:",
    ),
    (
        "no-account.toml",
        "vendor = \"autoextract\"\naccount = \"ghost\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://a.com\"]\n",
        "no-account.toml:2:11:",
    ),
    (
        "page-size.toml",
        "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [\"t1\"]\npage_size = 5000\n",
        "page-size.toml:4:13:",
    ),
    (
        "bad-selector.toml",
        "vendor = \"wds\"\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"t\", selector = \"h1\" }]\n",
        "bad-selector.toml:4:",
    ),
    (
        "two-vendors.toml",
        "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://a.com\"]\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"t\", selector = \"css: h1\" }]\n",
        "two-vendors.toml:5:",
    ),
    (
        "Bad Name.toml",
        "vendor = \"autoextract\"\n",
        "Bad Name.toml:1:1:",
    ),
    (
        "empty-urls.toml",
        "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls = []\n",
        "empty-urls.toml:4:8:",
    ),
    ("empty.toml", "", "empty.toml:1:1:"),
];

#[test]
fn each_bad_file_gets_one_located_error_while_a_valid_job_runs() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    // Accounts of every vendor, so the files fail for their own errors only.
    let others = "[accounts.octo]\nvendor = \"octoparse\"\nbase_url = \"http://127.0.0.1:9\"\nusername = \"u\"\npassword = \"p\"\n\n[accounts.wds]\nvendor = \"wds\"\nbase_url = \"http://127.0.0.1:9\"\n";
    let mut h = Harness::new(&format!(
        "{}\n{others}",
        autoextract_account(&sim.base_url())
    ));
    for (name, text, _) in BAD {
        std::fs::write(h.path(&format!("jobs/{name}")), text).unwrap();
    }
    h.start();
    url_job(&h, "good", &urls(50, 2));

    let run = h.wait_run_end("good", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded");
    let status = h.call("status", json!({}));
    let invalid = status["invalid_job_files"].as_array().unwrap();
    for (name, _, location) in BAD {
        let hits: Vec<_> = invalid
            .iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with(name))
            .collect();
        assert_eq!(hits.len(), 1, "one error for {name}: {invalid:?}");
        let error = hits[0]["error"].as_str().unwrap();
        assert!(
            error.contains(location),
            "{name}: {error:?} should contain {location:?}"
        );
    }
    assert!(
        h.log().contains("unknown-key.toml:2:1:"),
        "errors also go to the log"
    );
    // The human status lists them too.
    let out = h.cli(&["status"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad-cron.toml:2:12:"));
}

#[test]
fn an_unreadable_job_file_is_reported_not_skipped() {
    let mut h = Harness::new(&autoextract_account("http://127.0.0.1:9"));
    // A link into a config tree that is not there (tests run as root, so permission
    // bits would not stop a read).
    std::os::unix::fs::symlink("/nonexistent/dredge/job.toml", h.path("jobs/linked.toml")).unwrap();
    std::fs::write(h.path("jobs/latin1.toml"), b"vendor = \"caf\xe9\"\n").unwrap();
    h.start();
    let status = h.call("status", json!({}));
    let invalid = status["invalid_job_files"].as_array().unwrap();
    let error_of = |name: &str| {
        invalid
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .map(|f| f["error"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{name} not reported: {invalid:?}"))
    };
    assert!(error_of("linked.toml").contains("cannot read the job file"));
    assert!(error_of("latin1.toml").contains("UTF-8"));
}
