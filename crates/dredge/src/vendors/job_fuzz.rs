//! Fuzzing job-file parsing: whatever a file holds, parsing returns a job or an error,
//! never panics or hangs. `DREDGE_FUZZ_CASES=N` sets the number of inputs per test
//! (default 256, what CI runs; `DREDGE_FUZZ_CASES=100000 cargo test -p dredge
//! job_fuzz --release` for a long run).

use std::path::Path;

use proptest::prelude::*;

use dredge_core::job::*;

use crate::fuzz::cases;
use crate::vendors::JOB_SECTIONS;

fn accounts() -> AccountIndex {
    AccountIndex(
        Vendor::ALL
            .iter()
            .map(|v| (v.key().to_string(), *v))
            .collect(),
    )
}

const KEYS: &[&str] = &[
    "vendor",
    "account",
    "schedule",
    "catch_up",
    "overlap",
    "enabled",
    "max_attempts",
    "deadline",
    "task_ids",
    "task_group_id",
    "mode",
    "page_size",
    "source",
    "queries",
    "urls",
    "input_file",
    "urls_file",
    "results",
    "delivery",
    "poll_interval",
    "callback_url",
    "page_type",
    "article_body_raw",
    "job_name",
    "start_urls",
    "crawl_delay",
    "follow",
    "max_depth",
    "max_pages",
    "fields",
    "restart",
    "domain",
    "markdown",
];

const SECTIONS: &[&str] = &[
    "",
    "[octoparse]",
    "[oxylabs]",
    "[wds]",
    "[autoextract]",
    "[[fields]]",
];

/// Values that have broken parsers before: extremes, wrong types, odd text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        Just("18446744073709551615".to_string()),
        Just("1e308".to_string()),
        Just("nan".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("\"* * * * * *\"".to_string()),
        Just("\"0 0 31 2 *\"".to_string()),
        Just("\"/dev/zero\"".to_string()),
        Just("\"../../etc/passwd\"".to_string()),
        Just("\"css: \"".to_string()),
        Just("[]".to_string()),
        Just("[{ name = \"t\", selector = \"xpath: //a\" }]".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        "\"[^\"\\\\]{0,40}\"",
        "[a-z0-9*/@ ,.-]{0,30}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec("\"[a-z:/.]{0,20}\"", 0..4)
            .prop_map(|v| format!("[{}]", v.join(", "))),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        prop::sample::select(SECTIONS).prop_map(str::to_string),
        Just("vendor = \"oxylabs\"".to_string()),
        Just("vendor = \"autoextract\"".to_string()),
        ".{0,40}",
    ]
}

fn parse_any(text: &str) {
    let path = Path::new("/nonexistent/jobs/fuzz.toml");
    let _ = parse_job(
        path,
        text,
        Some(&accounts()),
        &FileRules::default(),
        &JOB_SECTIONS,
    );
    let _ = parse_job(path, text, None, &FileRules::default(), &JOB_SECTIONS);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn job_files_of_plausible_lines_never_panic(lines in prop::collection::vec(line(), 0..24)) {
        parse_any(&lines.join("\n"));
    }

    #[test]
    fn job_files_of_any_text_never_panic(text in ".{0,400}") {
        parse_any(&text);
    }

    #[test]
    fn every_error_has_a_place(lines in prop::collection::vec(line(), 0..24)) {
        let text = lines.join("\n");
        if let Err(e) = parse_job(Path::new("/j/fuzz.toml"), &text, Some(&accounts()), &FileRules::default(), &JOB_SECTIONS) {
            prop_assert!(e.to_string().starts_with("/j/fuzz.toml:"), "{e}");
        }
    }
}
