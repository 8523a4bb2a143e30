//! What each documented Zyte API answer means, one behaviour per test. The bodies are
//! the documented problem objects (Zyte API reference, "Errors"; recorded live bodies
//! where noted in `docs/vendors/zyte.md`).

use std::time::Duration;

use dredge_core::retry::{AccountStop, Decision, ItemBudget, decide};
use dredge_core::{Answer, Outcome, SnoozeScope, ThrottleCurve, UnixMillis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use super::*;

fn answer(status: u16, kind: &str, retry_after: Option<&str>) -> Answer {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
    }
    let body = if kind.is_empty() {
        String::new()
    } else {
        format!(r#"{{"type":"{kind}","title":"Title of {kind}","status":{status},"detail":"d"}}"#)
    };
    Answer {
        status,
        headers,
        body: body.into_bytes().into(),
    }
}

fn outcome_of(a: &Answer) -> Outcome {
    problem::outcome(a, "shop.example.com")
}

fn budget(attempts: u32) -> ItemBudget {
    ItemBudget {
        attempts,
        polls: 0,
        max_attempts: 8,
        deadline: None,
    }
}

const NOW: UnixMillis = UnixMillis(1_000_000);

#[test]
fn a_domain_limit_snoozes_that_domain_for_retry_after_uncounted() {
    let out = outcome_of(&answer(429, "/limits/over-domain-limit", Some("7")));
    let Outcome::Throttled(s) = &out else {
        panic!("unexpected {out:?}")
    };
    assert_eq!(s.scope, SnoozeScope::Domain("shop.example.com".into()));
    assert_eq!(s.delay, Some(Duration::from_secs(7)));
    let org = outcome_of(&answer(429, "/limits/over-org-domain-limit", Some("3")));
    assert!(matches!(org, Outcome::Throttled(ref s) if matches!(s.scope, SnoozeScope::Domain(_))));
    assert!(matches!(
        decide(out, budget(0), NOW, &mut rand::rng()),
        Decision::Wait { .. }
    ));
}

#[test]
fn user_and_global_rate_limits_snooze_the_account_honouring_retry_after() {
    for (status, kind) in [
        (429, "/limits/over-user-limit"),
        (503, "/limits/over-global-limit"),
        (429, ""),
    ] {
        match outcome_of(&answer(status, kind, Some("2"))) {
            Outcome::Throttled(s) => {
                assert_eq!(s.scope, SnoozeScope::Account, "{kind}");
                assert_eq!(s.delay, Some(Duration::from_secs(2)), "{kind}");
            }
            other => panic!("{kind}: unexpected {other:?}"),
        }
    }
    // No Retry-After: the official client's 20–40 s, never zero.
    let unnamed = outcome_of(&answer(429, "/limits/over-user-limit", None));
    match &unnamed {
        Outcome::Throttled(s) => assert_eq!((s.delay, s.curve), (None, ThrottleCurve::ZyteClient)),
        other => panic!("unexpected {other:?}"),
    }
    let mut rng = StdRng::seed_from_u64(1);
    match decide(unnamed, budget(0), NOW, &mut rng) {
        Decision::Wait { not_before, .. } => {
            assert!(
                not_before >= NOW.after(Duration::from_secs(20)),
                "{not_before:?}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn download_errors_are_counted_retries_at_retry_after_with_their_own_small_budget() {
    let temporary = outcome_of(&answer(520, "/download/temporary-error", Some("60")));
    match &temporary {
        Outcome::Retry(f) => {
            assert_eq!(f.retry_after, Some(Duration::from_secs(60)));
            assert_eq!(f.budget, Some(TEMPORARY_DOWNLOAD_BUDGET));
        }
        other => panic!("unexpected {other:?}"),
    }
    match decide(temporary.clone(), budget(0), NOW, &mut rand::rng()) {
        Decision::Retry { not_before, .. } => {
            assert!(not_before >= NOW.after(Duration::from_secs(60)))
        }
        other => panic!("unexpected {other:?}"),
    }
    // The fourth counted attempt is the last, though the job allows eight.
    assert!(matches!(
        decide(temporary, budget(3), NOW, &mut rand::rng()),
        Decision::Dead { .. }
    ));
    let internal = outcome_of(&answer(521, "/download/internal-error", None));
    assert!(matches!(
        decide(internal.clone(), budget(0), NOW, &mut rand::rng()),
        Decision::Retry { .. }
    ));
    assert!(matches!(
        decide(internal, budget(1), NOW, &mut rand::rng()),
        Decision::Dead { .. }
    ));
}

#[test]
fn a_suspended_account_stops_the_account_and_kills_nothing() {
    let out = outcome_of(&answer(403, "/auth/account-suspended", None));
    assert!(matches!(out, Outcome::AccountSuspended { .. }), "{out:?}");
    match decide(out, budget(0), NOW, &mut rand::rng()) {
        Decision::StopAccount { kind, .. } => assert_eq!(kind, AccountStop::Suspended),
        other => panic!("unexpected {other:?}"),
    }
    for (status, kind) in [
        (401, "/auth/key-not-found"),
        (401, "/auth/not-valid"),
        (403, ""),
    ] {
        assert!(
            matches!(
                outcome_of(&answer(status, kind, None)),
                Outcome::AuthFailed { .. }
            ),
            "{status} {kind}"
        );
    }
}

#[test]
fn forbidden_domains_and_bad_requests_are_dead_with_the_vendors_title() {
    for (status, kind) in [
        (451, "/download/domain-forbidden"),
        (400, "/request/invalid"),
        (400, "/request/invalid-json"),
        (422, "/request/unprocessable"),
        (421, "/website/domain-unreachable"),
    ] {
        match outcome_of(&answer(status, kind, None)) {
            Outcome::Fatal { message } => {
                assert!(message.contains(&format!("Title of {kind}")), "{message}");
                assert!(message.contains(&status.to_string()), "{message}");
            }
            other => panic!("{kind}: unexpected {other:?}"),
        }
    }
}

#[test]
fn server_errors_and_connection_errors_are_counted_retries_on_the_jobs_budget() {
    for (status, kind) in [
        (500, "/server/internal"),
        (500, "/server/timed-out"),
        (502, ""),
        (421, "/website/connection-error"),
    ] {
        match outcome_of(&answer(status, kind, None)) {
            Outcome::Retry(f) => assert_eq!(f.budget, None, "{kind}"),
            other => panic!("{status} {kind}: unexpected {other:?}"),
        }
    }
}

#[test]
fn problem_types_are_read_in_every_published_form() {
    assert_eq!(
        type_path("/limits/over-domain-limit"),
        "/limits/over-domain-limit"
    );
    assert_eq!(
        type_path("https://docs.zyte.com/zyte-api/usage/errors.html#/limits/over-domain-limit"),
        "/limits/over-domain-limit"
    );
    assert_eq!(
        type_path("https://api.zyte.com/auth/account-suspended/"),
        "/auth/account-suspended"
    );
    assert_eq!(type_path(""), "");
}

#[test]
fn odd_bodies_never_panic() {
    for body in ["", "<html>", "[1]", "{\"type\":5}", "\u{0}"] {
        let a = Answer {
            status: 400,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec().into(),
        };
        assert!(matches!(outcome_of(&a), Outcome::Fatal { .. }));
    }
}

#[test]
fn the_api_key_never_appears_in_debug_output() {
    let client = dredge_core::VendorClient::with_gate(
        "http://127.0.0.1:9",
        Duration::from_secs(1),
        dredge_core::RateGate::new(None, 1),
    )
    .unwrap();
    let executor = ZyteExecutor::with_client(ApiKeyClient::with_client(
        client,
        dredge_core::Secret::new("s3cret-key"),
    ));
    assert!(!format!("{executor:?}").contains("s3cret-key"));
}

#[test]
fn planning_makes_one_item_per_url_scoped_by_host_and_refused_urls_dead() {
    let items = plan_urls(&[
        "https://A.com/1".into(),
        "https://a.com/2".into(),
        "http://10.1.1.1/x".into(),
    ]);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].scope.as_deref(), Some("a.com"));
    assert_eq!(items[1].label, "https://a.com/2");
    assert!(matches!(items[2].start, ItemStart::Dead { .. }));
}
