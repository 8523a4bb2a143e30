//! Job files: what is accepted, and the one clear error for each thing that is not,
//! with every vendor's table as the daemon reads them (`JOB_SECTIONS`).

use std::path::Path;

use dredge_core::job::*;
use dredge_core::{FileError, JobSpec};

use crate::vendors::JOB_SECTIONS;

fn accounts() -> AccountIndex {
    AccountIndex(
        [
            ("zyte", Vendor::Autoextract),
            ("octo", Vendor::Octoparse),
            ("oxy", Vendor::Oxylabs),
            ("wds", Vendor::Wds),
            ("wds2", Vendor::Wds),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect(),
    )
}

fn parse(name: &str, text: &str) -> Result<JobSpec, FileError> {
    parse_job(
        Path::new(&format!("/jobs/{name}.toml")),
        text,
        Some(&accounts()),
        &FileRules::default(),
        &JOB_SECTIONS,
    )
}

fn error(name: &str, text: &str) -> String {
    parse(name, text)
        .expect_err("the file must be rejected")
        .to_string()
}

const AUTOEXTRACT: &str = r#"
vendor = "autoextract"
schedule = "0 */6 * * *"
[autoextract]
page_type = "article"
urls = ["https://example.com/a"]
"#;

#[test]
fn a_full_autoextract_job_parses_with_defaults() {
    let job = parse("news", AUTOEXTRACT).unwrap();
    assert_eq!(job.name.as_str(), "news");
    assert_eq!(
        job.account, "zyte",
        "the only autoextract account is chosen"
    );
    assert_eq!(job.max_attempts, 8);
    assert_eq!(job.deadline, std::time::Duration::from_secs(6 * 3600));
    assert_eq!(job.catch_up, CatchUp::Once);
    assert_eq!(job.overlap, Overlap::Skip);
    assert!(job.enabled);
    match job.work {
        VendorJob::Autoextract(a) => {
            assert_eq!(a.page_type, PageType::Article);
            assert_eq!(
                a.urls,
                InputList::Inline(vec!["https://example.com/a".into()])
            );
            assert!(!a.article_body_raw);
        }
        other => panic!("wrong vendor: {other:?}"),
    }
}

#[test]
fn unknown_key_is_reported_at_its_line() {
    let e = error(
        "j",
        "vendor = \"autoextract\"\nretries = 3\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com\"]\n",
    );
    assert!(e.starts_with("/jobs/j.toml:2:1: "), "{e}");
    assert!(e.contains("retries"), "{e}");
}

#[test]
fn bad_toml_names_the_line() {
    let e = error("j", "vendor = \"autoextract\"\n[autoextract\n");
    assert!(e.starts_with("/jobs/j.toml:2:"), "{e}");
}

#[test]
fn bad_cron_is_reported_at_the_schedule_value() {
    let text = AUTOEXTRACT.replace("0 */6 * * *", "0 */6 * *");
    let e = error("j", &text);
    assert!(e.starts_with("/jobs/j.toml:3:12: "), "{e}");
    assert!(e.contains("fields"), "{e}");
    let text = AUTOEXTRACT.replace("0 */6 * * *", "0 99 * * *");
    assert!(error("j", &text).contains("not a valid cron"));
}

#[test]
fn cron_forms_of_the_spec_are_accepted() {
    for s in [
        "*/5 * * * *",
        "30 */5 * * * *",
        "@hourly",
        "@daily",
        "@weekly",
    ] {
        let text = AUTOEXTRACT.replace("0 */6 * * *", s);
        assert!(parse("j", &text).is_ok(), "{s} should be accepted");
    }
}

#[test]
fn unknown_vendor_is_rejected() {
    let e = error("j", "vendor = \"scrapy\"\n");
    assert!(e.contains("/jobs/j.toml:1:10"), "{e}");
    assert!(e.contains("scrapy"), "{e}");
}

#[test]
fn unknown_account_lists_the_known_ones() {
    let text = AUTOEXTRACT.replace(
        "vendor = \"autoextract\"",
        "vendor = \"autoextract\"\naccount = \"nope\"",
    );
    let e = error("j", &text);
    assert!(e.contains("/jobs/j.toml:3:11"), "{e}");
    assert!(e.contains("zyte"), "{e}");
}

#[test]
fn account_of_another_vendor_is_rejected() {
    let text = AUTOEXTRACT.replace(
        "vendor = \"autoextract\"",
        "vendor = \"autoextract\"\naccount = \"oxy\"",
    );
    assert!(error("j", &text).contains("is a oxylabs account"));
}

#[test]
fn ambiguous_account_must_be_named() {
    let e = error(
        "j",
        "vendor = \"wds\"\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"t\", selector = \"css: h1\" }]\n",
    );
    assert!(e.contains("several wds accounts"), "{e}");
}

#[test]
fn page_size_out_of_range_is_rejected() {
    let e = error(
        "j",
        "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [\"a\"]\npage_size = 1001\n",
    );
    assert_eq!(
        e,
        "/jobs/j.toml:4:13: page_size: 1001 is out of range (1..=1000)"
    );
}

#[test]
fn every_bad_number_or_duration_is_an_error_naming_its_key() {
    let octo = "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [\"a\"]\n";
    let oxy = "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google\"\nqueries = [\"a\"]\n";
    for (text, expected) in [
        (
            format!("{octo}page_size = 0\n"),
            "page_size: 0 is out of range (1..=1000)",
        ),
        (
            format!("{octo}page_size = 99999999999999999999\n"),
            "page_size:",
        ),
        (
            format!("max_attempts = \"eight\"\n{octo}"),
            "max_attempts: invalid type: string \"eight\", expected an integer (1..=1000)",
        ),
        (
            format!("deadline = \"18446744073709551615s\"\n{octo}"),
            "deadline: ",
        ),
        (
            format!("{oxy}poll_interval = \"18446744073709551615s\"\n"),
            "poll_interval: ",
        ),
        (
            format!("{oxy}poll_interval = \"1ms\"\n"),
            "poll_interval: 1ms is out of range (1s..=1day)",
        ),
        (
            format!("deadline = \"0s\"\n{octo}"),
            "deadline: duration \"0s\" must be longer than zero",
        ),
    ] {
        let e = error("j", &text);
        assert!(e.contains(expected), "{text:?}: {e}");
        assert!(e.starts_with("/jobs/j.toml:"), "{e}");
    }
}

#[test]
fn a_schedule_firing_every_second_is_allowed_but_warned() {
    let every = parse("j", &AUTOEXTRACT.replace("0 */6 * * *", "* * * * * *")).unwrap();
    let warnings = every.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("schedule: "), "{warnings:?}");
    assert!(parse("j", AUTOEXTRACT).unwrap().warnings().is_empty());
    let every_minute = parse("j", &AUTOEXTRACT.replace("0 */6 * * *", "* * * * *")).unwrap();
    assert!(every_minute.warnings().is_empty());
}

#[test]
fn empty_url_list_is_rejected() {
    let e = error(
        "j",
        "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls = []\n",
    );
    assert!(e.starts_with("/jobs/j.toml:4:8: "), "{e}");
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn bad_selector_prefix_names_the_field() {
    let e = error(
        "j",
        "vendor = \"wds\"\naccount = \"wds\"\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"t\", selector = \"h1\" }]\n",
    );
    assert!(e.contains("css:"), "{e}");
    assert!(e.contains(":5:"), "{e}");
}

#[test]
fn selector_prefix_is_case_insensitive() {
    let job = parse(
        "j",
        "vendor = \"wds\"\naccount = \"wds\"\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"p\", selector = \"XPath: //span[@class='p']\", attribute = \"val\" }]\nfollow = [{ selector = \"CSS: a.next\", attribute = \"href\" }]\n",
    )
    .unwrap();
    match job.work {
        VendorJob::Wds(w) => {
            assert_eq!(w.job_name, "j");
            assert_eq!(w.fields[0].selector.as_str(), "XPath: //span[@class='p']");
        }
        other => panic!("{other:?}"),
    }
}

const WDS: &str = "vendor = \"wds\"\naccount = \"wds\"\n[wds]\nstart_urls = [\"https://a.com\"]\nfields = [{ name = \"t\", selector = \"css: h1\" }]\n";

fn wds_restart(text: &str) -> WdsRestart {
    match parse("j", text).expect("a valid job").work {
        VendorJob::Wds(w) => w.restart,
        other => panic!("{other:?}"),
    }
}

#[test]
fn wds_restart_is_from_scratch_unless_the_job_says_continue() {
    assert_eq!(wds_restart(WDS), WdsRestart::FromScratch);
    let with = |value: &str| format!("{WDS}restart = \"{value}\"\n");
    assert_eq!(wds_restart(&with("continue")), WdsRestart::Continue);
    assert_eq!(wds_restart(&with("from_scratch")), WdsRestart::FromScratch);
    let e = error("j", &with("FromScratch"));
    assert!(e.starts_with("/jobs/j.toml:6:11: restart: "), "{e}");
    assert!(e.contains("expected `from_scratch` or `continue`"), "{e}");
}

#[test]
fn two_vendor_sections_are_rejected() {
    let text =
        format!("{AUTOEXTRACT}[oxylabs]\nsource = \"universal\"\nurls = [\"https://a.com\"]\n");
    assert!(error("j", &text).contains("exactly one vendor section"));
}

#[test]
fn section_must_match_the_vendor() {
    let e = error(
        "j",
        "vendor = \"oxylabs\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com\"]\n",
    );
    assert!(e.contains("does not match"), "{e}");
}

#[test]
fn empty_file_is_rejected() {
    assert!(error("j", "  \n").contains("empty"));
}

#[test]
fn name_outside_the_allowed_pattern_is_reported() {
    let e = error("Bad Name", AUTOEXTRACT);
    assert!(e.contains("[a-z0-9][a-z0-9_-]*"), "{e}");
}

#[test]
fn oxylabs_passes_singular_parameters_through() {
    let job = parse(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"adidas\"]\ndomain = \"com\"\nparse = true\npages = 2\n",
    )
    .unwrap();
    let VendorJob::Oxylabs(o) = job.work else {
        panic!()
    };
    let params: serde_json::Value = serde_json::from_str(&o.params_json).unwrap();
    assert_eq!(
        params,
        serde_json::json!({"domain": "com", "parse": true, "pages": 2})
    );
    assert_eq!(o.results, OxylabsResults::Parsed);
    assert_eq!(o.delivery, OxylabsDelivery::Poll);
}

#[test]
fn oxylabs_markdown_results_set_the_markdown_flag_or_the_job_is_refused() {
    let text = "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"universal\"\nurls = [\"https://a.com/\"]\nresults = \"markdown\"\n";
    let VendorJob::Oxylabs(o) = parse("j", text).unwrap().work else {
        panic!()
    };
    assert_eq!(o.results, OxylabsResults::Markdown);
    let params: serde_json::Value = serde_json::from_str(&o.params_json).unwrap();
    assert_eq!(params, serde_json::json!({"markdown": true}));
    let e = error("j", &format!("{text}markdown = false\n"));
    assert!(e.starts_with("/jobs/j.toml:2:1: "), "{e}");
    assert!(
        e.contains("results = \"markdown\" needs markdown = true on the job"),
        "{e}"
    );
}

#[test]
fn oxylabs_rejects_list_parameters_and_callback_without_url() {
    let e = error(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"a\"]\ngeo = [\"x\"]\n",
    );
    assert!(e.contains("geo"), "{e}");
    let e = error(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"a\"]\ndelivery = \"callback\"\n",
    );
    assert!(e.contains("callback_url"), "{e}");
}

#[test]
fn oxylabs_values_go_under_the_key_the_source_documents_unless_input_kind_says_otherwise() {
    let e = error(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"universal\"\nqueries = [\"a\"]\n",
    );
    assert!(e.contains("use urls = [...]"), "{e}");
    let e = error(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"amazon_product\"\nurls = [\"https://a.com\"]\n",
    );
    assert!(e.contains("use queries = [...]"), "{e}");
    let job = parse(
        "j",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"new_thing\"\ninput_kind = \"query\"\nqueries = [\"a\"]\n",
    )
    .unwrap();
    let VendorJob::Oxylabs(o) = job.work else {
        panic!()
    };
    assert!(matches!(o.inputs, OxylabsInputs::Queries(_)));
}

#[test]
fn input_file_is_resolved_next_to_the_job_and_must_hold_values() {
    let dir = std::env::temp_dir().join(format!("dredge-core-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("urls.txt"),
        "https://a.com/1\n\n# comment\nhttps://a.com/2\n",
    )
    .unwrap();
    std::fs::write(dir.join("none.txt"), "\n# nothing\n").unwrap();
    let job_path = dir.join("j.toml");
    let text = "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"urls.txt\"\n";
    let job = parse_job(
        &job_path,
        text,
        Some(&accounts()),
        &FileRules::default(),
        &JOB_SECTIONS,
    )
    .unwrap();
    let VendorJob::Autoextract(a) = &job.work else {
        panic!()
    };
    let mut values = Vec::new();
    for_each_input(&a.urls, &FileRules::default(), |v| {
        values.push(v.to_string());
        Ok(true)
    })
    .unwrap();
    assert_eq!(values, ["https://a.com/1", "https://a.com/2"]);
    let e = parse_job(
        &job_path,
        &text.replace("urls.txt", "none.txt"),
        Some(&accounts()),
        &FileRules::default(),
        &JOB_SECTIONS,
    )
    .unwrap_err();
    assert!(e.to_string().contains("holds no values"), "{e}");
    let e = parse_job(
        &job_path,
        &text.replace("urls.txt", "missing.txt"),
        Some(&accounts()),
        &FileRules::default(),
        &JOB_SECTIONS,
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot read input file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spec_survives_a_bincode_round_trip() {
    let job = parse("news", AUTOEXTRACT).unwrap();
    let bytes = bincode::serde::encode_to_vec(&job, bincode::config::standard()).unwrap();
    let (back, _): (JobSpec, _) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, job);
}

#[test]
fn editor_temp_files_are_ignored() {
    for name in [
        ".j.toml.swp",
        "j.toml~",
        "j.swp",
        "j.tmp",
        ".hidden.toml",
        "README.md",
    ] {
        assert!(is_ignored_file_name(name), "{name}");
    }
    assert!(!is_ignored_file_name("j.toml"));
}

#[test]
fn schedule_finds_next_and_last_fires() {
    let s = Schedule::try_from("0 * * * *".to_string()).unwrap();
    let t = dredge_core::UnixMillis(3_600_000 * 10 + 5);
    assert_eq!(
        s.next_after(t),
        Some(dredge_core::UnixMillis(3_600_000 * 11))
    );
    assert_eq!(
        s.last_fire_between(dredge_core::UnixMillis(0), t),
        Some(dredge_core::UnixMillis(3_600_000 * 10))
    );
    assert_eq!(
        s.last_fire_between(dredge_core::UnixMillis(3_600_000 * 10), t),
        None
    );
}

#[test]
fn without_a_config_any_account_is_taken_as_given() {
    let text = AUTOEXTRACT.replace(
        "vendor = \"autoextract\"",
        "vendor = \"autoextract\"\naccount = \"prod\"",
    );
    let job = parse_job(
        Path::new("/jobs/j.toml"),
        &text,
        None,
        &FileRules::default(),
        &JOB_SECTIONS,
    )
    .unwrap();
    assert_eq!(job.account, "prod");
    let job = parse_job(
        Path::new("/jobs/j.toml"),
        AUTOEXTRACT,
        None,
        &FileRules::default(),
        &JOB_SECTIONS,
    )
    .unwrap();
    assert_eq!(job.account, "autoextract");
}

#[test]
fn stored_enum_positions_never_move_when_values_are_added() {
    // Job snapshots of unfinished runs are stored with bincode, which names enum
    // variants by position: a value added in the middle would silently turn a stored
    // `product` job into another page type after an upgrade.
    let pos = |v: &dyn erased::Enc| v.bytes();
    assert_eq!(pos(&PageType::Article), [0]);
    assert_eq!(pos(&PageType::Product), [1]);
    assert_eq!(pos(&Vendor::Autoextract), [3]);
    assert_eq!(pos(&Vendor::Zyte), [4]);
}

mod erased {
    pub(super) trait Enc {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Enc for T {
        fn bytes(&self) -> Vec<u8> {
            bincode::serde::encode_to_vec(self, bincode::config::standard()).unwrap()
        }
    }
}

#[test]
fn each_job_says_its_own_input_list() {
    let inline = |v: &[&str]| InputList::Inline(v.iter().map(|s| s.to_string()).collect());
    for (text, expected) in [
        (
            "vendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls = [\"https://z.test/1\"]\n",
            Some(inline(&["https://z.test/1"])),
        ),
        (
            "vendor = \"autoextract\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.test/1\"]\n",
            Some(inline(&["https://a.test/1"])),
        ),
        (
            "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"q1\", \"q2\"]\n",
            Some(inline(&["q1", "q2"])),
        ),
        (
            "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [\"t1\"]\n",
            None,
        ),
    ] {
        let spec = parse_job(
            Path::new("/jobs/j.toml"),
            text,
            None,
            &FileRules::default(),
            &JOB_SECTIONS,
        )
        .expect("a valid job");
        assert_eq!(spec.work.inputs(), expected.as_ref(), "{text}");
    }
}

#[test]
fn an_unknown_key_names_every_key_a_job_takes_with_the_vendor_tables_last() {
    let e = error(
        "j",
        "vendor = \"autoextract\"\nretries = 3\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com\"]\n",
    );
    assert_eq!(
        e,
        "/jobs/j.toml:2:1: unknown field `retries`, expected one of `vendor`, `account`, `schedule`, `catch_up`, `overlap`, `enabled`, `max_attempts`, `deadline`, `retention`, `octoparse`, `oxylabs`, `wds`, `autoextract`, `zyte`"
    );
}

#[test]
fn an_unknown_key_inside_a_table_names_that_tables_keys() {
    let e = error(
        "j",
        "vendor = \"autoextract\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com\"]\n[retention]\nruns = 3\n",
    );
    assert_eq!(
        e,
        "/jobs/j.toml:6:1: unknown field `runs`, expected one of `keep_runs`, `keep_for`, `delete_outputs`"
    );
}

#[test]
fn of_several_errors_the_first_key_in_serdes_order_is_reported_vendor_tables_included() {
    // The toml map visits keys in order of their names: `autoextract` before
    // `catch_up`, `retention` before `wds`.
    let e = error(
        "j",
        "vendor = \"autoextract\"\ncatch_up = \"never\"\n[autoextract]\npage_type = \"blog\"\nurls = [\"https://a.com\"]\n",
    );
    assert!(
        e.starts_with("/jobs/j.toml:4:13: page_type: unknown variant `blog`"),
        "{e}"
    );
    let e = error(
        "j",
        "vendor = \"wds\"\n[wds]\nbogus = 1\n[retention]\nruns = 3\n",
    );
    assert!(
        e.starts_with("/jobs/j.toml:5:1: unknown field `runs`"),
        "{e}"
    );
}
