//! Executor-level unit tests without a network: planning and settling batches. What
//! the executor says is checked on the outcome; where a test needs the follow-ups as
//! the queue gets them, the outcome goes through the retry policy as in the daemon.

use std::collections::HashMap;
use std::time::Duration;

use dredge_core::job::PageType;
use dredge_core::retry::{self, Decision, ItemBudget};
use dredge_core::{
    Carry, Completion, FailureClass, ItemStart, JsonText, Snooze, SnoozeScope, Throttle,
    ThrottleCurve,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::answer::{request_error, settle, sort};
use crate::results::QueryResult;
use dredge_core::Secret;

const NOW: UnixMillis = UnixMillis(1_000_000);

const SHAPE: QueryShape = QueryShape {
    page_type: PageType::Product,
    article_body_raw: false,
};

fn item(attempts: u32) -> ItemContext {
    ItemContext {
        label: "batch".into(),
        payload: Vec::new(),
        attempts,
        polls: 0,
        run_started: UnixMillis(0),
    }
}

fn batch(urls: &[&str]) -> Batch {
    Batch::new(
        urls.iter()
            .enumerate()
            .map(|(i, u)| Query {
                url: u.to_string(),
                index: i as u32,
            })
            .collect(),
    )
}

fn settle_with(batch: &Batch, answers: &[(u32, QueryResult)], attempts: u32) -> Outcome {
    let results: HashMap<u32, QueryResult> = answers.iter().map(|(i, r)| (*i, r.clone())).collect();
    let item = item(attempts);
    let ctx = Context {
        item: &item,
        now: NOW,
    };
    settle(batch, sort(batch, results), &ctx)
}

/// What the retry policy makes of `outcome` for an item with `attempts` spent of 8.
fn decided(outcome: Outcome, attempts: u32) -> Decision {
    let budget = ItemBudget {
        attempts,
        polls: 0,
        max_attempts: 8,
        deadline: None,
    };
    retry::decide(outcome, budget, NOW, &mut StdRng::seed_from_u64(1))
}

/// The completion as the queue gets it: continuations turned into follow-ups.
fn decided_done(outcome: Outcome, attempts: u32) -> Completion {
    match decided(outcome, attempts) {
        Decision::Complete { completion, .. } => completion,
        other => panic!("expected a completion, got {other:?}"),
    }
}

fn ok(data: &str) -> QueryResult {
    QueryResult::Extracted(JsonText::parse(data.into()).expect("test data is JSON"))
}

fn err(message: &str) -> QueryResult {
    QueryResult::Error(message.into())
}

fn done(outcome: Outcome) -> Completion {
    match outcome {
        Outcome::Done(c) => c,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn queries_of(item: &NewItem) -> Vec<u32> {
    Batch::decode(&item.payload)
        .unwrap()
        .queries
        .iter()
        .map(|q| q.index)
        .collect()
}

const OCCUPIED: &str = "Domain a.com is occupied, please retry in 2.5 seconds";

#[test]
fn a_mixed_batch_settles_each_query_on_its_own() {
    let b = batch(&[
        "https://a.com/1",
        "https://a.com/2",
        "https://a.com/3",
        "https://a.com/4",
        "https://a.com/5",
    ]);
    let outcome = settle_with(
        &b,
        &[
            (0, ok(r#"{"name":"one"}"#)),
            (1, err("Downloader error: http404")),
            (2, err(OCCUPIED)),
            (3, err("query timed out")),
            // 4 has no result at all: it is retried too.
        ],
        2,
    );
    // What the executor says: the occupied query waits out the snooze, the transient
    // ones are a counted retry listed URL by URL should they die.
    let said = done(outcome.clone());
    let carries: Vec<_> = said.continuations.iter().map(|c| &c.carry).collect();
    assert!(
        matches!(carries[0], Carry::After(stop) if matches!(**stop, Outcome::Snooze(_))),
        "{carries:?}"
    );
    assert!(
        matches!(carries[1], Carry::After(stop) if matches!(&**stop, Outcome::Retry(f) if f.class == FailureClass::Vendor)),
        "{carries:?}"
    );
    let parts: Vec<_> = said.continuations[1]
        .parts
        .iter()
        .map(|p| p.item.label.as_str())
        .collect();
    assert_eq!(parts, ["https://a.com/4", "https://a.com/5"]);
    // What the queue gets.
    let c = decided_done(outcome, 2);
    assert_eq!(c.records.len(), 1);
    assert_eq!(c.records[0].source, "https://a.com/1");
    assert_eq!(c.records[0].data, r#"{"name":"one"}"#);
    assert_eq!(c.records[0].item, "batch");

    let dead: Vec<_> = c
        .follow_ups
        .iter()
        .filter(|f| matches!(f.start, ItemStart::Dead { .. }))
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].label, "https://a.com/2");
    assert_eq!(
        dead[0].start,
        ItemStart::Dead {
            reason: "Downloader error: http404".into()
        }
    );

    let occupied = c.follow_ups.iter().find(|f| queries_of(f) == [2]).unwrap();
    assert_eq!(occupied.scope.as_deref(), Some("a.com"));
    match occupied.start {
        ItemStart::Ready {
            not_before: Some(t),
            attempts,
        } => {
            assert_eq!(attempts, 2, "an occupied query spends no attempt");
            assert!(
                t >= NOW.after(Duration::from_millis(2500)),
                "waits the announced 2.5 s"
            );
        }
        ref other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        c.snoozes,
        vec![Snooze {
            delay: Duration::from_millis(2500),
            scope: SnoozeScope::Domain("a.com".into()),
            reason: OCCUPIED.into(),
        }]
    );

    let retried = c
        .follow_ups
        .iter()
        .find(|f| queries_of(f) == [3, 4])
        .unwrap();
    assert!(matches!(
        retried.start,
        ItemStart::Ready { attempts: 3, .. }
    ));
    assert_eq!(c.follow_ups.len(), 3, "no finished query is sent again");
}

#[test]
fn a_batch_wholly_occupied_snoozes_the_item_and_its_domain() {
    let b = batch(&["https://a.com/1", "https://www.a.com/2"]);
    let outcome = settle_with(&b, &[(0, err(OCCUPIED)), (1, err(OCCUPIED))], 0);
    assert_eq!(
        outcome,
        Outcome::Snooze(Snooze {
            delay: Duration::from_millis(2500),
            scope: SnoozeScope::Domain("a.com".into()),
            reason: OCCUPIED.into(),
        })
    );
}

#[test]
fn a_batch_wholly_transient_is_one_counted_retry() {
    let b = batch(&["https://a.com/1", "https://a.com/2"]);
    let outcome = settle_with(&b, &[(0, err("query timed out"))], 0);
    match outcome {
        Outcome::Retry(f) => {
            assert_eq!(f.class, dredge_core::FailureClass::Vendor);
            assert!(f.message.contains("query timed out") || f.message.contains("no result"));
        }
        other => panic!("expected Retry, got {other:?}"),
    }
}

#[test]
fn spent_attempts_leave_one_dead_item_per_url() {
    let b = batch(&["https://a.com/1", "https://a.com/2"]);
    // Wholly transient: the item itself is retried; once the attempts are spent it is
    // dead, and the daemon lists it URL by URL.
    let outcome = settle_with(
        &b,
        &[(0, err("query timed out")), (1, err("query timed out"))],
        7,
    );
    match decided(outcome, 7) {
        Decision::Dead { reason } => {
            assert!(reason.starts_with("gave up after 8 attempts"), "{reason}")
        }
        other => panic!("expected dead, got {other:?}"),
    }
    let ctx = ItemContext {
        label: b.label(),
        payload: b.encode(),
        attempts: 7,
        polls: 0,
        run_started: UnixMillis(0),
    };
    let parts = executor().split_for_death(&ctx);
    let labels: Vec<_> = parts.iter().map(|f| f.label.as_str()).collect();
    assert_eq!(labels, ["https://a.com/1", "https://a.com/2"]);
}

#[test]
fn spent_attempts_of_a_partly_answered_batch_leave_each_url_dead_with_its_error() {
    let b = batch(&[
        "https://a.com/1",
        "https://a.com/2",
        "https://a.com/3",
        "https://b.com/4",
    ]);
    let outcome = settle_with(
        &b,
        &[
            (0, ok(r#"{"name":"one"}"#)),
            (1, err("query timed out")),
            // 2 has no result at all.
            (3, err("Downloader error: http503")),
        ],
        7,
    );
    let c = decided_done(outcome, 7);
    assert_eq!(c.records.len(), 1);
    let dead: Vec<(&str, &ItemStart)> = c
        .follow_ups
        .iter()
        .map(|f| (f.label.as_str(), &f.start))
        .collect();
    let reason = |r: &str| ItemStart::Dead { reason: r.into() };
    assert_eq!(
        dead,
        [
            (
                "https://a.com/2",
                &reason("gave up after 8 attempts: vendor: query timed out")
            ),
            (
                "https://a.com/3",
                &reason("gave up after 8 attempts: vendor: no result for this query in the answer")
            ),
            (
                "https://b.com/4",
                &reason("gave up after 8 attempts: vendor: Downloader error: http503")
            ),
        ]
    );
}

#[test]
fn plan_groups_by_domain_and_kills_unsendable_urls() {
    let urls: Vec<String> = [
        "https://a.com/1",
        "https://b.org/1",
        "ftp://a.com/x",
        "https://shop.a.com/2",
        "nonsense",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let items = plan_batches(&SHAPE, &urls);
    let ready: Vec<(Option<&str>, Vec<u32>)> = items
        .iter()
        .filter(|i| matches!(i.start, ItemStart::Ready { .. }))
        .map(|i| (i.scope.as_deref(), queries_of(i)))
        .collect();
    assert_eq!(
        ready,
        vec![(Some("a.com"), vec![0, 3]), (Some("b.org"), vec![1])]
    );
    let dead: Vec<&str> = items
        .iter()
        .filter(|i| matches!(i.start, ItemStart::Dead { .. }))
        .map(|i| i.label.as_str())
        .collect();
    assert_eq!(dead, ["ftp://a.com/x", "nonsense"]);
}

#[test]
fn a_rejected_batch_is_split_once_then_dead() {
    let b = batch(&["https://a.com/1", "https://a.com/2", "https://a.com/3"]);
    let item = item(3);
    let ctx = Context {
        item: &item,
        now: UnixMillis(5),
    };
    let rejected = || RequestError::Rejected {
        message: "HTTP 413 payload-too-large".into(),
    };
    let split = request_error(rejected(), &b, &ctx);
    let said = done(split.clone());
    assert!(said.follow_ups.is_empty());
    assert!(
        said.continuations.iter().all(|c| c.carry
            == Carry::Attempts {
                not_before: Some(UnixMillis(5))
            }),
        "the halves carry the item's attempts on"
    );
    let c = decided_done(split, 3);
    assert!(c.follow_ups.iter().all(|f| f.start
        == ItemStart::Ready {
            not_before: Some(UnixMillis(5)),
            attempts: 3
        }));
    let halves: Vec<Batch> = c
        .follow_ups
        .iter()
        .map(|f| Batch::decode(&f.payload).unwrap())
        .collect();
    assert_eq!(halves.len(), 2);
    assert!(halves.iter().all(|h| h.split));
    let c = done(request_error(rejected(), &halves[0], &ctx));
    assert!(
        c.follow_ups
            .iter()
            .all(|f| matches!(&f.start, ItemStart::Dead { reason } if reason.contains("413")))
    );
    assert_eq!(c.follow_ups.len(), halves[0].queries.len());
}

#[test]
fn throttling_snoozes_the_account_and_auth_problems_stop_it() {
    let b = batch(&["https://a.com/1"]);
    let item = item(0);
    let ctx = Context {
        item: &item,
        now: UnixMillis(5),
    };
    let throttled = |delay| RequestError::Throttled {
        delay,
        message: "HTTP 429".into(),
    };
    let throttle = |delay| {
        Outcome::Throttled(Throttle {
            delay,
            curve: ThrottleCurve::ZyteClient,
            scope: SnoozeScope::Account,
            reason: "HTTP 429".into(),
        })
    };
    let three = Some(Duration::from_secs(3));
    assert_eq!(request_error(throttled(three), &b, &ctx), throttle(three));
    assert_eq!(request_error(throttled(None), &b, &ctx), throttle(None));
    let auth = RequestError::Auth {
        message: "HTTP 403 account-disabled".into(),
    };
    assert!(matches!(
        request_error(auth, &b, &ctx),
        Outcome::AuthFailed { .. }
    ));
    let server = RequestError::Transient {
        retry_after: Some(Duration::from_secs(60)),
        message: "HTTP 520".into(),
    };
    assert!(matches!(
        request_error(server, &b, &ctx),
        Outcome::Retry(f) if f.retry_after == Some(Duration::from_secs(60))
    ));
}

fn executor() -> AutoextractExecutor {
    let client = dredge_core::VendorClient::with_gate(
        "http://127.0.0.1:9",
        std::time::Duration::from_secs(5),
        dredge_core::RateGate::new(None, 1),
    )
    .expect("a client");
    AutoextractExecutor::with_client(ApiKeyClient::with_client(client, Secret::new("k")))
}

#[test]
fn a_batch_that_dies_whole_is_listed_url_by_url() {
    let executor = executor();
    let batch = Batch::new(vec![
        Query {
            url: "https://www.a.com/1".into(),
            index: 0,
        },
        Query {
            url: "https://www.a.com/2".into(),
            index: 1,
        },
    ]);
    let ctx = ItemContext {
        label: batch.label(),
        payload: batch.encode(),
        attempts: 0,
        polls: 3,
        run_started: dredge_core::UnixMillis(0),
    };
    let parts = executor.split_for_death(&ctx);
    let urls: Vec<String> = parts
        .iter()
        .map(|p| Batch::decode(&p.payload).unwrap().queries[0].url.clone())
        .collect();
    assert_eq!(urls, vec!["https://www.a.com/1", "https://www.a.com/2"]);
    assert!(
        parts
            .iter()
            .all(|p| p.label.starts_with("https://www.a.com/"))
    );
}
