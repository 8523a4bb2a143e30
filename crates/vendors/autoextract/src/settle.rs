//! Turning one batch's answer into an `Outcome`: each query is settled on its own —
//! extracted (a record), dead, occupied (regrouped and snoozed per domain, no attempt)
//! or transient (regrouped with one more attempt). Finished queries are never part of a
//! follow-up, so an answered query is not sent again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use dredge_core::retry::{retry_delay, snooze_delay};
use dredge_core::{
    Completion, Failure, FailureClass, ItemContext, ItemStart, JsonText, NewItem, Outcome, Record,
    Snooze, SnoozeScope, UnixMillis,
};
use rand::Rng;

use crate::batch::{Batch, Query};
use crate::domain::url_domain;
use crate::query_error::{self, QueryError};
use crate::results::QueryResult;

/// Where the item stands, for the follow-ups it creates.
pub struct Context<'a> {
    pub item: &'a ItemContext,
    pub max_attempts: u32,
    pub now: UnixMillis,
}

/// Each query of a batch, sorted by what happens to it next.
#[derive(Debug, Default)]
pub struct Sorted {
    pub extracted: Vec<(Query, JsonText)>,
    pub dead: Vec<(Query, String)>,
    /// By domain: the queries, the longest wait asked and the service's words.
    pub occupied: BTreeMap<String, (Vec<Query>, Duration, String)>,
    pub retry: Vec<(Query, String)>,
}

/// Sort the batch's queries by their results (matched on `meta`, the query's index).
/// The results are consumed: each record moves into its query's place.
pub fn sort(batch: &Batch, mut results: HashMap<u32, QueryResult>) -> Sorted {
    let mut sorted = Sorted::default();
    for query in &batch.queries {
        match results.remove(&query.index) {
            Some(QueryResult::Extracted(data)) => sorted.extracted.push((query.clone(), data)),
            Some(QueryResult::Error(message)) => sort_error(&mut sorted, query, &message),
            None => sorted.retry.push((
                query.clone(),
                "no result for this query in the answer".into(),
            )),
        }
    }
    sorted
}

fn sort_error(sorted: &mut Sorted, query: &Query, message: &str) {
    match query_error::classify(message) {
        QueryError::Occupied { delay, .. } => {
            // Our own scope of the query, so the gate matches the items we planned.
            let entry = sorted
                .occupied
                .entry(scope_of(query))
                .or_insert_with(|| (Vec::new(), Duration::ZERO, String::new()));
            entry.0.push(query.clone());
            if delay >= entry.1 {
                (entry.1, entry.2) = (delay, message.to_string());
            }
        }
        QueryError::Retriable => sorted.retry.push((query.clone(), message.to_string())),
        QueryError::Permanent => sorted.dead.push((query.clone(), message.to_string())),
    }
}

/// The item scope of a query: its registrable domain.
pub fn scope_of(query: &Query) -> String {
    url_domain(&query.url).unwrap_or_default()
}

/// The outcome for a sorted batch. When nothing finished and the batch has one fate
/// only, the item itself snoozes or retries; otherwise it completes and regroups.
pub fn settle(batch: &Batch, mut sorted: Sorted, ctx: &Context<'_>, rng: &mut impl Rng) -> Outcome {
    let nothing_finished = sorted.extracted.is_empty() && sorted.dead.is_empty();
    if nothing_finished
        && sorted.retry.is_empty()
        && sorted.occupied.len() == 1
        && let Some((domain, (_, delay, reason))) = sorted.occupied.pop_first()
    {
        let scope = SnoozeScope::Domain(domain);
        return Outcome::Snooze(Snooze {
            delay,
            scope,
            reason,
        });
    }
    if nothing_finished && sorted.occupied.is_empty() && !sorted.retry.is_empty() {
        let failure = vendor_failure(&sorted.retry);
        return counted_retry(batch, ctx, failure);
    }
    Outcome::Done(complete(batch, sorted, ctx, rng))
}

fn complete(batch: &Batch, sorted: Sorted, ctx: &Context<'_>, rng: &mut impl Rng) -> Completion {
    let mut completion = Completion {
        records: sorted
            .extracted
            .into_iter()
            .map(|(q, data)| record(q, data, ctx))
            .collect(),
        ..Completion::default()
    };
    let dead = sorted.dead.into_iter();
    completion
        .follow_ups
        .extend(dead.map(|(q, why)| dead_item(q, why)));
    for (domain, (queries, delay, reason)) in sorted.occupied {
        let not_before = ctx.now.after(snooze_delay(delay, rng));
        let follow_up = regroup(batch, queries, &domain, not_before, ctx.item.attempts);
        completion.follow_ups.push(follow_up);
        let scope = SnoozeScope::Domain(domain);
        completion.snoozes.push(Snooze {
            delay,
            scope,
            reason,
        });
    }
    if !sorted.retry.is_empty() {
        let failure = vendor_failure(&sorted.retry);
        completion
            .follow_ups
            .extend(retried(batch, sorted.retry, failure, ctx, rng));
    }
    completion
}

/// Follow-ups for transient queries: one more attempt counted, or dead once the job's
/// `max_attempts` is spent (mirroring the retry policy).
fn retried(
    batch: &Batch,
    retry: Vec<(Query, String)>,
    failure: Failure,
    ctx: &Context<'_>,
    rng: &mut impl Rng,
) -> Vec<NewItem> {
    let attempts = ctx.item.attempts.saturating_add(1);
    if attempts >= ctx.max_attempts {
        return retry
            .into_iter()
            .map(|(q, why)| dead_item(q, gave_up(attempts, FailureClass::Vendor, &why)))
            .collect();
    }
    let not_before = ctx.now.after(retry_delay(attempts, rng));
    let mut by_domain: BTreeMap<String, Vec<Query>> = BTreeMap::new();
    for (query, _) in retry {
        by_domain.entry(scope_of(&query)).or_default().push(query);
    }
    tracing::debug!(queries = by_domain.len(), error = %failure.message, "regrouping transient queries");
    by_domain
        .into_iter()
        .map(|(domain, queries)| regroup(batch, queries, &domain, not_before, attempts))
        .collect()
}

/// A counted retry of the whole item, or every query dead when the attempts are spent
/// (so each URL still ends as its own dead item).
pub fn counted_retry(batch: &Batch, ctx: &Context<'_>, failure: Failure) -> Outcome {
    let attempts = ctx.item.attempts.saturating_add(1);
    if attempts >= ctx.max_attempts {
        let reason = gave_up(attempts, failure.class, &failure.message);
        return all_dead(batch, &reason);
    }
    Outcome::Retry(failure)
}

/// Every query of the batch dead with `reason`, each as its own dead item.
pub fn all_dead(batch: &Batch, reason: &str) -> Outcome {
    Outcome::Done(Completion {
        follow_ups: batch
            .queries
            .iter()
            .map(|q| dead_item(q.clone(), reason.to_string()))
            .collect(),
        ..Completion::default()
    })
}

/// The halves of a rejected batch as ready follow-ups, keeping their attempts.
pub fn split(batch: &Batch, ctx: &Context<'_>) -> Outcome {
    let follow_ups = batch
        .halves()
        .into_iter()
        .map(|half| {
            let domain = half.queries.first().map(scope_of).unwrap_or_default();
            item_for(&half, &domain, ctx.now, ctx.item.attempts)
        })
        .collect();
    Outcome::Done(Completion {
        follow_ups,
        ..Completion::default()
    })
}

fn gave_up(attempts: u32, class: FailureClass, message: &str) -> String {
    format!(
        "gave up after {attempts} attempts: {}: {message}",
        class.as_str()
    )
}

fn vendor_failure(retry: &[(Query, String)]) -> Failure {
    let first = retry.first().map_or("", |(_, m)| m.as_str());
    let message = match retry.len() {
        1 => first.to_string(),
        n => format!("{first} (and {} more queries)", n - 1),
    };
    Failure {
        class: FailureClass::Vendor,
        message,
        retry_after: None,
        budget: None,
    }
}

fn regroup(
    parent: &Batch,
    queries: Vec<Query>,
    domain: &str,
    not_before: UnixMillis,
    attempts: u32,
) -> NewItem {
    let batch = Batch {
        queries,
        split: parent.split,
    };
    item_for(&batch, domain, not_before, attempts)
}

fn item_for(batch: &Batch, domain: &str, not_before: UnixMillis, attempts: u32) -> NewItem {
    NewItem::ready(batch.label(), batch.encode())
        .with_scope(domain)
        .with_start(ItemStart::Ready {
            not_before: Some(not_before),
            attempts,
        })
}

/// A query that ended for good, as its own dead item labelled with its URL.
pub fn dead_item(query: Query, reason: String) -> NewItem {
    let scope = scope_of(&query);
    let batch = Batch::new(vec![query]);
    let item = NewItem::ready(batch.label(), batch.encode()).with_start(ItemStart::Dead { reason });
    if scope.is_empty() {
        item
    } else {
        item.with_scope(scope)
    }
}

fn record(query: Query, data: JsonText, ctx: &Context<'_>) -> Record {
    Record {
        source: query.url,
        item: ctx.item.label.clone(),
        fetched_at: ctx.now,
        data,
        attachment: None,
    }
}
