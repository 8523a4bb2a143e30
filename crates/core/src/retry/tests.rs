//! The retry rules of README "Retry rules", one behaviour per test.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::outcome::{FailureClass, ThrottleCurve};

const NOW: UnixMillis = UnixMillis(1_000_000_000);

fn budget() -> ItemBudget {
    ItemBudget {
        attempts: 0,
        polls: 0,
        max_attempts: 8,
        deadline: Some(NOW.after(Duration::from_secs(6 * 3600))),
    }
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn server_error() -> Outcome {
    Outcome::retry(FailureClass::Server, "HTTP 500")
}

#[test]
fn transient_failure_counts_one_attempt_and_backs_off() {
    match decide(server_error(), budget(), NOW, &mut rng()) {
        Decision::Retry {
            attempts,
            not_before,
            error,
        } => {
            assert_eq!(attempts, 1);
            assert!(
                not_before <= NOW.after(RETRY_INITIAL),
                "first retry within 1 s"
            );
            assert!(error.contains("HTTP 500"));
        }
        other => panic!("expected a counted retry, got {other:?}"),
    }
}

#[test]
fn last_allowed_attempt_makes_the_item_dead_with_the_error() {
    let b = ItemBudget {
        attempts: 7,
        ..budget()
    };
    match decide(server_error(), b, NOW, &mut rng()) {
        Decision::Dead { reason } => {
            assert!(reason.contains("8 attempts"), "{reason}");
            assert!(reason.contains("HTTP 500"), "{reason}");
        }
        other => panic!("expected dead, got {other:?}"),
    }
}

#[test]
fn retry_curve_doubles_from_one_second_and_caps_at_five_minutes() {
    assert_eq!(retry_ceiling(1), Duration::from_secs(1));
    assert_eq!(retry_ceiling(2), Duration::from_secs(2));
    assert_eq!(retry_ceiling(3), Duration::from_secs(4));
    assert_eq!(retry_ceiling(9), Duration::from_secs(256));
    assert_eq!(retry_ceiling(10), Duration::from_secs(300));
    assert_eq!(retry_ceiling(1000), Duration::from_secs(300));
}

#[test]
fn full_jitter_spreads_delays_between_zero_and_the_ceiling() {
    let mut r = rng();
    let delays: Vec<_> = (0..200).map(|_| retry_delay(6, &mut r)).collect();
    assert!(delays.iter().all(|d| *d <= Duration::from_secs(32)));
    assert!(
        delays.iter().any(|d| *d < Duration::from_secs(8)),
        "low end reached"
    );
    assert!(
        delays.iter().any(|d| *d > Duration::from_secs(24)),
        "high end reached"
    );
}

#[test]
fn retry_after_is_honoured_instead_of_the_curve() {
    let outcome = Outcome::Retry(Failure {
        class: FailureClass::Server,
        message: "HTTP 520".into(),
        retry_after: Some(Duration::from_secs(60)),
        budget: None,
    });
    match decide(outcome, budget(), NOW, &mut rng()) {
        Decision::Retry { not_before, .. } => {
            assert!(not_before >= NOW.after(Duration::from_secs(60)));
            assert!(not_before <= NOW.after(Duration::from_secs(61)));
        }
        other => panic!("expected retry, got {other:?}"),
    }
}

#[test]
fn not_ready_waits_without_counting_an_attempt() {
    let b = ItemBudget {
        attempts: 3,
        polls: 4,
        ..budget()
    };
    match decide(Outcome::NotReady { after: None }, b, NOW, &mut rng()) {
        Decision::Wait {
            polls,
            not_before,
            gate,
            ..
        } => {
            assert_eq!(polls, 5, "one more poll");
            assert!(not_before <= NOW.after(POLL_CAP));
            assert_eq!(gate, None);
        }
        other => panic!("expected wait, got {other:?}"),
    }
}

#[test]
fn poll_delay_grows_from_one_second_and_never_passes_thirty() {
    let mut r = rng();
    assert!(poll_delay(0, &mut r) <= Duration::from_secs(1));
    assert!(poll_delay(0, &mut r) >= Duration::from_millis(500));
    for polls in 0..100 {
        assert!(poll_delay(polls, &mut r) <= POLL_CAP);
    }
    assert!(poll_delay(10, &mut r) >= POLL_CAP / 2);
}

#[test]
fn vendor_poll_interval_is_used_when_given() {
    let outcome = Outcome::NotReady {
        after: Some(Duration::from_secs(10)),
    };
    match decide(outcome, budget(), NOW, &mut rng()) {
        Decision::Wait { not_before, .. } => {
            assert!(not_before >= NOW.after(Duration::from_secs(10)));
            assert!(not_before <= NOW.after(Duration::from_secs(11)));
        }
        other => panic!("expected wait, got {other:?}"),
    }
}

#[test]
fn domain_snooze_closes_the_domain_gate_and_counts_nothing() {
    let outcome = Outcome::Snooze(Snooze {
        delay: Duration::from_secs_f64(23.5),
        scope: SnoozeScope::Domain("example.com".into()),
        reason: "Domain example.com is occupied, please retry in 23.5 seconds".into(),
    });
    match decide(outcome, budget(), NOW, &mut rng()) {
        Decision::Wait {
            not_before,
            polls,
            gate: Some(gate),
            note,
        } => {
            assert_eq!(polls, 1);
            assert_eq!(gate.scope, SnoozeScope::Domain("example.com".into()));
            assert_eq!(gate.until, not_before, "item and domain wake together");
            assert!(not_before >= NOW.after(Duration::from_millis(23_500)));
            assert!(note.contains("occupied"));
        }
        other => panic!("expected a gated wait, got {other:?}"),
    }
}

#[test]
fn account_snooze_closes_the_account_gate() {
    let outcome = Outcome::Snooze(Snooze {
        delay: Duration::from_secs(5),
        scope: SnoozeScope::Account,
        reason: "429".into(),
    });
    match decide(outcome, budget(), NOW, &mut rng()) {
        Decision::Wait { gate: Some(g), .. } => assert_eq!(g.scope, SnoozeScope::Account),
        other => panic!("expected an account gate, got {other:?}"),
    }
}

#[test]
fn reauth_retries_at_once_without_an_attempt() {
    let b = ItemBudget {
        attempts: 7,
        ..budget()
    };
    match decide(Outcome::Reauth, b, NOW, &mut rng()) {
        Decision::Wait { not_before, .. } => assert_eq!(not_before, NOW),
        other => panic!("expected an immediate uncounted retry, got {other:?}"),
    }
}

#[test]
fn rejected_credentials_stop_the_account_instead_of_killing_items() {
    let outcome = Outcome::AuthFailed {
        message: "invalid_grant".into(),
    };
    assert!(matches!(
        decide(outcome, budget(), NOW, &mut rng()),
        Decision::StopAccount { .. }
    ));
}

#[test]
fn a_suspended_account_stops_the_account_as_suspended_and_kills_nothing() {
    let outcome = Outcome::AccountSuspended {
        message: "Account Suspended".into(),
    };
    match decide(outcome, budget(), NOW, &mut rng()) {
        Decision::StopAccount { kind, reason } => {
            assert_eq!(kind, AccountStop::Suspended);
            assert_eq!(kind.as_str(), "account_suspended");
            assert_eq!(reason, "Account Suspended");
        }
        other => panic!("expected a stopped account, got {other:?}"),
    }
}

#[test]
fn a_failure_with_its_own_budget_dies_when_that_budget_is_spent() {
    let download = || Outcome::Retry(Failure::new(FailureClass::Server, "HTTP 520").with_budget(4));
    let at = |attempts| ItemBudget {
        attempts,
        ..budget()
    };
    assert!(matches!(
        decide(download(), at(2), NOW, &mut rng()),
        Decision::Retry { attempts: 3, .. }
    ));
    match decide(download(), at(3), NOW, &mut rng()) {
        Decision::Dead { reason } => assert!(reason.contains("4 attempts"), "{reason}"),
        other => panic!("expected dead after 4 attempts, got {other:?}"),
    }
    // A budget above the job's never extends it.
    let generous = Outcome::Retry(Failure::new(FailureClass::Server, "x").with_budget(50));
    assert!(matches!(
        decide(generous, at(7), NOW, &mut rng()),
        Decision::Dead { .. }
    ));
}

#[test]
fn bad_request_is_dead_with_the_vendors_message() {
    let d = decide(
        Outcome::fatal("taskid_error: no such task"),
        budget(),
        NOW,
        &mut rng(),
    );
    assert_eq!(
        d,
        Decision::Dead {
            reason: "taskid_error: no such task".into()
        }
    );
}

#[test]
fn a_wait_that_would_end_past_the_deadline_kills_the_item() {
    let b = ItemBudget {
        deadline: Some(NOW.after(Duration::from_secs(10))),
        ..budget()
    };
    let outcome = Outcome::Snooze(Snooze {
        delay: Duration::from_secs(300),
        scope: SnoozeScope::Item,
        reason: "occupied".into(),
    });
    match decide(outcome, b, NOW, &mut rng()) {
        Decision::Dead { reason } => assert!(reason.contains("deadline"), "{reason}"),
        other => panic!("expected dead at deadline, got {other:?}"),
    }
}

#[test]
fn uncounted_waits_never_use_up_the_attempt_budget() {
    let mut b = budget();
    b.deadline = None;
    for _ in 0..1000 {
        match decide(Outcome::NotReady { after: None }, b, NOW, &mut rng()) {
            Decision::Wait { polls, .. } => b.polls = polls,
            other => panic!("waits must not end the item: {other:?}"),
        }
    }
    assert_eq!(b.attempts, 0);
    assert!(matches!(
        decide(server_error(), b, NOW, &mut rng()),
        Decision::Retry { attempts: 1, .. }
    ));
}

#[test]
fn an_item_leased_after_its_deadline_is_expired() {
    let b = budget();
    assert!(!expired(b, NOW));
    assert!(expired(b, b.deadline.unwrap()));
}

#[test]
fn completion_closes_the_gates_it_names() {
    let completion = Completion {
        snoozes: vec![Snooze {
            delay: Duration::from_secs(10),
            scope: SnoozeScope::Domain("a.com".into()),
            reason: "occupied".into(),
        }],
        ..Completion::default()
    };
    match decide(Outcome::Done(completion), budget(), NOW, &mut rng()) {
        Decision::Complete { gates, .. } => {
            assert_eq!(gates.len(), 1);
            assert!(gates[0].until >= NOW.after(Duration::from_secs(10)));
        }
        other => panic!("expected completion, got {other:?}"),
    }
}

// Throttles: the vendor names a delay or a curve; the policy computes the wait.

fn throttle(delay: Option<Duration>, curve: ThrottleCurve) -> Outcome {
    Outcome::Throttled(crate::outcome::Throttle {
        delay,
        curve,
        scope: SnoozeScope::Account,
        reason: "HTTP 429".into(),
    })
}

const DOUBLING_TO_A_MINUTE: ThrottleCurve = ThrottleCurve::Doubling {
    cap: Duration::from_secs(60),
};

#[test]
fn a_throttle_that_names_a_delay_waits_it_and_closes_its_scope() {
    let b = ItemBudget {
        polls: 5,
        ..budget()
    };
    let outcome = throttle(Some(Duration::from_secs(7)), DOUBLING_TO_A_MINUTE);
    match decide(outcome, b, NOW, &mut rng()) {
        Decision::Wait {
            not_before,
            polls,
            gate: Some(gate),
            note,
        } => {
            assert!(not_before >= NOW.after(Duration::from_secs(7)));
            assert!(not_before <= NOW.after(Duration::from_millis(7_600)));
            assert_eq!((gate.scope, gate.until), (SnoozeScope::Account, not_before));
            assert_eq!(polls, 6, "not an attempt");
            assert_eq!(note, "HTTP 429");
        }
        other => panic!("expected a gated wait, got {other:?}"),
    }
}

#[test]
fn a_throttle_without_a_delay_follows_its_curve_by_the_items_waits() {
    let wait_after = |polls, curve| {
        let b = ItemBudget { polls, ..budget() };
        match decide(throttle(None, curve), b, NOW, &mut rng()) {
            Decision::Wait { not_before, .. } => NOW.until(not_before),
            other => panic!("expected a wait, got {other:?}"),
        }
    };
    // The curve's wait plus the snooze jitter (250 ms + 5 %).
    let near = |d: Duration, secs: u64| {
        let base = Duration::from_secs(secs);
        d >= base && d <= base + Duration::from_millis(250) + base / 20
    };
    assert!(near(wait_after(0, DOUBLING_TO_A_MINUTE), 1));
    assert!(near(wait_after(2, DOUBLING_TO_A_MINUTE), 4));
    assert!(near(wait_after(40, DOUBLING_TO_A_MINUTE), 60));
    let zyte = wait_after(0, ThrottleCurve::ZyteClient);
    assert!(zyte >= Duration::from_secs(20) && zyte <= Duration::from_secs(43));
}

#[test]
fn the_doubling_throttle_curve_steps_from_one_second_to_its_cap() {
    let steps = |cap| -> Vec<u64> {
        let curve = ThrottleCurve::Doubling { cap };
        (0..9)
            .map(|polls| curve.delay(polls, &mut rng()).as_secs())
            .collect()
    };
    // Oxylabs' 429 without Retry-After.
    assert_eq!(
        steps(Duration::from_secs(60)),
        [1, 2, 4, 8, 16, 32, 60, 60, 60]
    );
    // Octoparse's: the retry curve's ceilings.
    assert_eq!(steps(RETRY_CAP), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    assert_eq!(
        ThrottleCurve::Doubling { cap: RETRY_CAP }.delay(40, &mut rng()),
        RETRY_CAP
    );
}

#[test]
fn throttle_backoff_follows_the_official_client() {
    let mut rng = rng();
    for polls in 0..2 {
        let d = throttle_backoff(polls, &mut rng);
        assert!((20.0..=40.0).contains(&d.as_secs_f64()), "{d:?}");
    }
    for polls in 2..40 {
        let d = throttle_backoff(polls, &mut rng).as_secs_f64();
        assert!((30.0..=630.0).contains(&d), "{d}");
    }
}

// Continuations: follow-ups carrying on the item's work start as the policy says.

use crate::continuation::{Continuation, Part};
use crate::item::{ItemStart, NewItem};

fn at(attempts: u32) -> ItemBudget {
    ItemBudget {
        attempts,
        ..budget()
    }
}

/// The follow-ups a completion of `continuations` leaves for the queue.
fn follow_ups(continuations: Vec<Continuation>, b: ItemBudget) -> Vec<NewItem> {
    let completion = Completion {
        continuations,
        ..Completion::default()
    };
    match decide(Outcome::Done(completion), b, NOW, &mut rng()) {
        Decision::Complete { completion, .. } => {
            assert!(completion.continuations.is_empty(), "never reach the queue");
            completion.follow_ups
        }
        other => panic!("expected completion, got {other:?}"),
    }
}

fn faulted() -> Failure {
    Failure::new(FailureClass::Vendor, "the job faulted")
}

fn item(label: &str) -> NewItem {
    NewItem::ready(label, Vec::new())
}

#[test]
fn a_retry_follow_up_gets_one_more_attempt_and_the_backoff() {
    let retry = Continuation::retry_of(item("again"), faulted());
    let made = follow_ups(vec![retry], at(2));
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].label, "again");
    match made[0].start {
        ItemStart::Ready {
            not_before: Some(t),
            attempts,
        } => {
            assert_eq!(attempts, 3);
            assert!(t <= NOW.after(retry_ceiling(3)), "full jitter up to 4 s");
        }
        ref other => panic!("expected ready, got {other:?}"),
    }
}

#[test]
fn a_retry_follow_up_is_dead_once_the_attempts_are_spent() {
    let retry = Continuation::retry_of(item("again"), faulted());
    let made = follow_ups(vec![retry], at(7));
    assert_eq!(
        made[0].start,
        ItemStart::Dead {
            reason: "gave up after 8 attempts: vendor: the job faulted".into()
        }
    );
    // A failure's own smaller budget bounds follow-ups too.
    let small = Continuation::retry_of(item("again"), faulted().with_budget(2));
    assert!(matches!(
        follow_ups(vec![small], at(1))[0].start,
        ItemStart::Dead { .. }
    ));
}

#[test]
fn a_spent_retry_follow_up_lists_its_parts_each_with_its_own_words() {
    let parts = vec![
        Part {
            item: item("https://a.com/1"),
            message: "query timed out".into(),
        },
        Part {
            item: item("https://a.com/2"),
            message: "no result for this query in the answer".into(),
        },
    ];
    let retry = Continuation::retry_of(item("2 queries"), faulted()).listed_as(parts.clone());
    let made = follow_ups(vec![retry.clone()], at(7));
    let listed: Vec<(&str, &ItemStart)> =
        made.iter().map(|f| (f.label.as_str(), &f.start)).collect();
    let dead = |r: &str| ItemStart::Dead { reason: r.into() };
    assert_eq!(
        listed,
        [
            (
                "https://a.com/1",
                &dead("gave up after 8 attempts: vendor: query timed out")
            ),
            (
                "https://a.com/2",
                &dead("gave up after 8 attempts: vendor: no result for this query in the answer")
            ),
        ]
    );
    // While attempts remain, the group runs again as one item.
    let made = follow_ups(vec![retry], at(1));
    assert_eq!(made.len(), 1);
    assert!(matches!(
        made[0].start,
        ItemStart::Ready { attempts: 2, .. }
    ));
}

#[test]
fn a_carried_follow_up_keeps_the_items_attempts() {
    let at_ten = NOW.after(Duration::from_secs(10));
    let carried = Continuation::carried(item("half"), Some(at_ten));
    assert_eq!(
        follow_ups(vec![carried], at(5))[0].start,
        ItemStart::Ready {
            not_before: Some(at_ten),
            attempts: 5
        }
    );
}

#[test]
fn the_rest_after_a_wait_waits_with_the_attempts_unchanged() {
    let occupied = Outcome::Snooze(Snooze {
        delay: Duration::from_secs(30),
        scope: SnoozeScope::Domain("a.com".into()),
        reason: "occupied".into(),
    });
    let rest = Continuation::after(item("rest"), occupied);
    match follow_ups(vec![rest], at(4))[0].start {
        ItemStart::Ready {
            not_before: Some(t),
            attempts,
        } => {
            assert_eq!(attempts, 4, "a wait is not an attempt");
            assert!(t >= NOW.after(Duration::from_secs(30)));
        }
        ref other => panic!("expected ready, got {other:?}"),
    }
    let polled = Continuation::after(item("rest"), Outcome::NotReady { after: None });
    assert!(matches!(
        follow_ups(vec![polled], at(4))[0].start,
        ItemStart::Ready { attempts: 4, not_before: Some(t) } if t > NOW
    ));
}

#[test]
fn the_rest_that_dies_says_what_was_done_before_the_reason() {
    let done = "page scraped, links not followed";
    let bad =
        Continuation::after(item("rest"), Outcome::fatal("HTTP 400: bad selector")).with_done(done);
    assert_eq!(
        follow_ups(vec![bad], at(0))[0].start,
        ItemStart::Dead {
            reason: "page scraped, links not followed: HTTP 400: bad selector".into()
        }
    );
    let spent = Continuation::after(item("rest"), server_error()).with_done(done);
    assert_eq!(
        follow_ups(vec![spent], at(7))[0].start,
        ItemStart::Dead {
            reason: "page scraped, links not followed: gave up after 8 attempts: server: HTTP 500"
                .into()
        }
    );
}

#[test]
fn the_rest_whose_wait_would_pass_the_deadline_is_dead() {
    let b = ItemBudget {
        deadline: Some(NOW.after(Duration::from_secs(10))),
        ..at(1)
    };
    let occupied = Outcome::Snooze(Snooze {
        delay: Duration::from_secs(300),
        scope: SnoozeScope::Item,
        reason: "occupied".into(),
    });
    let rest = Continuation::after(item("rest"), occupied);
    assert_eq!(
        follow_ups(vec![rest], b)[0].start,
        ItemStart::Dead {
            reason: "deadline passed before the item could finish (last: occupied)".into()
        }
    );
}

#[test]
fn dead_reasons_are_worded_once() {
    match decide(server_error(), at(7), NOW, &mut rng()) {
        Decision::Dead { reason } => {
            assert_eq!(reason, "gave up after 8 attempts: server: HTTP 500")
        }
        other => panic!("expected dead, got {other:?}"),
    }
    let b = ItemBudget {
        deadline: Some(NOW),
        ..at(0)
    };
    match decide(Outcome::NotReady { after: None }, b, NOW, &mut rng()) {
        Decision::Dead { reason } => assert_eq!(
            reason,
            "deadline passed before the item could finish (last: not ready yet)"
        ),
        other => panic!("expected dead, got {other:?}"),
    }
}
