use serde_json::json;

use super::*;

fn parse(value: Value) -> Result<Request, serde_json::Error> {
    serde_json::from_value(value)
}

#[test]
fn every_method_is_listed_once_under_its_documented_name() {
    assert_eq!(
        Request::methods(),
        [
            "status",
            "jobs.list",
            "job.run",
            "job.pause",
            "job.resume",
            "runs.list",
            "run.get",
            "run.cancel",
            "dead.list",
            "run.retry",
            "reload",
            "metrics",
        ]
    );
}

#[test]
fn the_status_group_may_call_exactly_the_methods_that_change_nothing() {
    assert_eq!(
        Request::read_only_methods(),
        [
            "status",
            "jobs.list",
            "runs.list",
            "run.get",
            "dead.list",
            "metrics"
        ]
    );
}

#[test]
fn a_request_reads_back_as_it_was_written() {
    let page = RunsList {
        job: Some("news".into()),
        limit: PageLimit::new(7),
        before: Some("20261123T110000Z-0004".into()),
    };
    for request in Request::iter().chain([page.into()]) {
        let wire = serde_json::to_value(&request).expect("encodes");
        assert_eq!(parse(wire).expect("decodes"), request);
    }
}

#[test]
fn runs_list_pages_default_to_fifty_runs() {
    let Request::RunsList(page) = parse(json!({"method": "runs.list", "params": {}})).unwrap()
    else {
        panic!("not runs.list");
    };
    assert_eq!(page.limit(), 50);
    assert_eq!(page.before, None);
}

#[test]
fn a_page_limit_outside_1_to_1000_is_refused_naming_limit() {
    for limit in [json!(0), json!(1001), json!(-1), json!(1.5), json!("20")] {
        let e = parse(json!({"method": "runs.list", "params": {"limit": limit}}))
            .expect_err("out of range");
        assert!(e.to_string().contains("`limit`"), "{limit}: {e}");
    }
    for limit in [1, 1000] {
        let page = json!({"method": "runs.list", "params": {"limit": limit, "before": "r"}});
        assert!(parse(page).is_ok(), "{limit}");
    }
}
