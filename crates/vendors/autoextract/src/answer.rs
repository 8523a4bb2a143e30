//! Turning one batch's answer into an `Outcome`. A request-level error is about the
//! whole batch (throttled, rejected, transient, final); a 200 answer is settled query
//! by query — extracted (a record), dead, occupied (regrouped and snoozed per domain,
//! no attempt) or transient (regrouped as a counted retry). Finished queries are never
//! part of a follow-up, so an answered query is not sent again. Attempts, delays and
//! dead reasons of retries are the retry policy's (`dredge_core::retry`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use dredge_core::{
    Completion, Continuation, Failure, FailureClass, ItemContext, ItemStart, JsonText, NewItem,
    Outcome, Part, Record, Snooze, SnoozeScope, Throttle, ThrottleCurve, UnixMillis,
};

use crate::batch::{Batch, Query};
use crate::domain::url_domain;
use crate::problem::RequestError;
use crate::query_error::{self, QueryError};
use crate::results::QueryResult;

/// The executing item, for the records and follow-ups it creates.
pub(crate) struct Context<'a> {
    pub item: &'a ItemContext,
    /// When the answer arrived: records are stamped with it.
    pub now: UnixMillis,
}

/// The outcome of a request-level error (a non-2xx answer).
pub(crate) fn request_error(error: RequestError, batch: &Batch, ctx: &Context<'_>) -> Outcome {
    match error {
        RequestError::Throttled { delay, message } => Outcome::Throttled(Throttle {
            delay,
            curve: ThrottleCurve::ZyteClient,
            scope: SnoozeScope::Account,
            reason: message,
        }),
        RequestError::Auth { message } => Outcome::AuthFailed { message },
        RequestError::Suspended { message } => Outcome::AccountSuspended { message },
        RequestError::Rejected { message } if !batch.split => {
            tracing::warn!(batch = %ctx.item.label, %message, "the service rejected a batch; splitting it once");
            split(batch, ctx)
        }
        RequestError::Rejected { message } => {
            all_dead(batch, &format!("rejected twice: {message}"))
        }
        // Once the attempts are spent the daemon lists the batch URL by URL
        // (`Executor::split_for_death`).
        RequestError::Transient {
            retry_after,
            message,
        } => Outcome::Retry(
            Failure::new(FailureClass::Server, message).with_retry_after(retry_after),
        ),
        RequestError::Permanent { message } => all_dead(batch, &message),
    }
}

/// Each query of a batch, sorted by what happens to it next.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    pub extracted: Vec<(Query, JsonText)>,
    pub dead: Vec<(Query, String)>,
    /// By domain: the queries, the longest wait asked and the service's words.
    pub occupied: BTreeMap<String, (Vec<Query>, Duration, String)>,
    pub retry: Vec<(Query, String)>,
}

/// Sort the batch's queries by their results (matched on `meta`, the query's index).
/// The results are consumed: each record moves into its query's place.
pub(crate) fn sort(batch: &Batch, mut results: HashMap<u32, QueryResult>) -> Sorted {
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
pub(crate) fn scope_of(query: &Query) -> String {
    url_domain(&query.url).unwrap_or_default()
}

/// The outcome for a sorted batch. When nothing finished and the batch has one fate
/// only, the item itself snoozes or retries; otherwise it completes and regroups.
pub(crate) fn settle(batch: &Batch, mut sorted: Sorted, ctx: &Context<'_>) -> Outcome {
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
        return Outcome::Retry(vendor_failure(&sorted.retry));
    }
    Outcome::Done(complete(batch, sorted, ctx))
}

fn complete(batch: &Batch, sorted: Sorted, ctx: &Context<'_>) -> Completion {
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
        // The regrouped queries wait as the item would have; the gate holds the domain.
        let snooze = Snooze {
            delay,
            scope: SnoozeScope::Domain(domain.clone()),
            reason,
        };
        let follow_up = regroup(batch, queries, &domain);
        let waits = Continuation::after(follow_up, Outcome::Snooze(snooze.clone()));
        completion.continuations.push(waits);
        completion.snoozes.push(snooze);
    }
    completion
        .continuations
        .extend(retried(batch, sorted.retry));
    completion
}

/// Transient queries as counted retries, regrouped by domain; a group whose attempts
/// are spent is listed query by query, each with its own error.
fn retried(batch: &Batch, retry: Vec<(Query, String)>) -> Vec<Continuation> {
    let mut by_domain: BTreeMap<String, Vec<(Query, String)>> = BTreeMap::new();
    for (query, why) in retry {
        by_domain
            .entry(scope_of(&query))
            .or_default()
            .push((query, why));
    }
    by_domain
        .into_iter()
        .map(|(domain, group)| {
            let failure = vendor_failure(&group);
            tracing::debug!(%domain, queries = group.len(), error = %failure.message, "regrouping transient queries");
            let (queries, parts): (Vec<Query>, Vec<Part>) = group
                .into_iter()
                .map(|(query, message)| {
                    let part = Part {
                        item: query_item(query.clone()),
                        message,
                    };
                    (query, part)
                })
                .unzip();
            Continuation::retry_of(regroup(batch, queries, &domain), failure).listed_as(parts)
        })
        .collect()
}

/// Every query of the batch dead with `reason`, each as its own dead item.
pub(crate) fn all_dead(batch: &Batch, reason: &str) -> Outcome {
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
pub(crate) fn split(batch: &Batch, ctx: &Context<'_>) -> Outcome {
    let continuations = batch
        .halves()
        .into_iter()
        .map(|half| {
            let domain = half.queries.first().map(scope_of).unwrap_or_default();
            Continuation::carried(item_for(&half, &domain), Some(ctx.now))
        })
        .collect();
    Outcome::Done(Completion {
        continuations,
        ..Completion::default()
    })
}

fn vendor_failure(retry: &[(Query, String)]) -> Failure {
    let first = retry.first().map_or("", |(_, m)| m.as_str());
    let message = match retry.len() {
        1 => first.to_string(),
        n => format!("{first} (and {} more queries)", n - 1),
    };
    Failure::new(FailureClass::Vendor, message)
}

fn regroup(parent: &Batch, queries: Vec<Query>, domain: &str) -> NewItem {
    let batch = Batch {
        queries,
        split: parent.split,
    };
    item_for(&batch, domain)
}

fn item_for(batch: &Batch, domain: &str) -> NewItem {
    NewItem::ready(batch.label(), batch.encode()).with_scope(domain)
}

/// A query that ended for good, as its own dead item labelled with its URL.
pub(crate) fn dead_item(query: Query, reason: String) -> NewItem {
    query_item(query).with_start(ItemStart::Dead { reason })
}

/// One query as an item of its own, labelled with its URL: how a query is listed
/// when it dies.
pub(crate) fn query_item(query: Query) -> NewItem {
    let scope = scope_of(&query);
    let batch = Batch::new(vec![query]);
    let item = NewItem::ready(batch.label(), batch.encode());
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
