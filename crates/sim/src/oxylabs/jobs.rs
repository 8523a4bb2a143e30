//! Jobs: their store, their lifecycle (pending until a seeded time, then done or
//! faulted, then expired) and the job JSON the API answers with.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// How a job ends once its time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Done {
        parse_failed: bool,
    },
    /// Vendor-side failure; results carry this status code (612 or 613).
    Faulted {
        code: u16,
    },
}

/// One submitted job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: String,
    pub account: String,
    pub client_id: u64,
    /// The submitted parameters (singular values), passed through into the job JSON.
    pub params: Map<String, Value>,
    /// The job's `query` or `url` value.
    pub target: String,
    /// The target site's domain, for the request log and per-domain limits.
    pub domain: String,
    pub created_at: DateTime<Utc>,
    pub finish_at: Instant,
    pub finished_at: DateTime<Utc>,
    pub ending: Ending,
    /// Scheme and host the client used, for `_links`.
    pub base: String,
    pub expired: bool,
}

/// What tests see of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: String,
    pub account: String,
    pub target: String,
    pub domain: String,
    pub faulted: bool,
    pub callback_url: Option<String>,
}

/// Where a job is in its life, seen at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Finished(Ending),
    Gone,
}

impl Job {
    // docs/vendors/oxylabs.md §"Endpoints and authentication": results kept at least 24 h
    // (`ttl`, shorter in tests).
    pub(crate) fn phase(&self, now: Instant, ttl: Duration) -> Phase {
        if self.expired || now > self.finish_at + ttl {
            Phase::Gone
        } else if now < self.finish_at {
            Phase::Pending
        } else {
            Phase::Finished(self.ending)
        }
    }

    pub(crate) fn callback_url(&self) -> Option<String> {
        self.params
            .get("callback_url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
    }

    pub(crate) fn status_word(phase: Phase) -> &'static str {
        match phase {
            Phase::Finished(Ending::Done { .. }) => "done",
            Phase::Finished(Ending::Faulted { .. }) => "faulted",
            _ => "pending",
        }
    }

    // docs/vendors/oxylabs.md §"Job JSON", §"Callbacks".
    /// The job JSON of the status endpoint, the submit answer and the callback body.
    pub(crate) fn to_json(&self, phase: Phase) -> Value {
        let mut job = self.defaults();
        for (key, value) in &self.params {
            job.insert(key.clone(), value.clone());
        }
        let updated = match phase {
            Phase::Finished(_) => self.finished_at,
            _ => self.created_at,
        };
        job.insert("id".into(), json!(self.id));
        job.insert("client_id".into(), json!(self.client_id));
        job.insert("status".into(), json!(Self::status_word(phase)));
        job.insert("created_at".into(), json!(timestamp(self.created_at)));
        job.insert("updated_at".into(), json!(timestamp(updated)));
        job.insert("_links".into(), self.links());
        Value::Object(job)
    }

    // docs/vendors/oxylabs.md §"List and object parameters": the live job JSON echoes
    // `context` with defaults.
    /// The fields a real job JSON carries even when the client did not send them.
    fn defaults(&self) -> Map<String, Value> {
        let context: Vec<Value> = ["results_language", "safe_search", "tbm", "cr", "filter"]
            .iter()
            .map(|key| json!({"key": key, "value": null}))
            .collect();
        let defaults = json!({
            "callback_url": null,
            "context": context,
            "domain": "com",
            "geo_location": null,
            "limit": 10,
            "locale": null,
            "pages": 1,
            "parse": false,
            "render": null,
            "source": "universal",
            "start_page": 1,
            "subdomain": "www",
            "user_agent_type": "desktop",
        });
        match defaults {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn links(&self) -> Value {
        let me = format!("{}/v1/queries/{}", self.base, self.id);
        let link = |rel: &str, href: String| json!({"rel": rel, "href": href, "method": "GET"});
        json!([
            link("self", me.clone()),
            link("results", format!("{me}/results")),
            link("results-html", format!("{me}/results?type=raw")),
            link("results-parsed", format!("{me}/results?type=parsed")),
            // Quirk kept from the vendor's own sample: the png link is labelled
            // "results-parsed" too, so clients must not pick links by `rel` alone.
            link("results-parsed", format!("{me}/results?type=png")),
            {"rel": "results-content", "href_list": [format!("{me}/results/1/content")], "method": "GET"},
            {"rel": "results-content-parsed",
             "href_list": [format!("{me}/results/1/content?type=parsed")], "method": "GET"},
        ])
    }
}

// docs/vendors/oxylabs.md §"Job JSON".
/// `2019-10-01 00:00:01`: UTC without a zone, as the vendor writes it.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// All jobs of one simulator.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    jobs: HashMap<String, Job>,
    order: Vec<String>,
    /// `source|target` keys that faulted once: their resubmissions succeed.
    faulted_keys: HashSet<String>,
}

impl JobStore {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.jobs.contains_key(id)
    }

    pub(crate) fn insert(&mut self, job: Job) {
        self.order.push(job.id.clone());
        self.jobs.insert(job.id.clone(), job);
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Job> {
        self.jobs.get(id)
    }

    /// False when this source and target already faulted once: resubmissions succeed.
    pub(crate) fn may_fault(&self, key: &str) -> bool {
        !self.faulted_keys.contains(key)
    }

    pub(crate) fn note_fault(&mut self, key: String) {
        self.faulted_keys.insert(key);
    }

    pub(crate) fn expire(&mut self, id: &str) -> bool {
        match self.jobs.get_mut(id) {
            Some(job) => {
                job.expired = true;
                true
            }
            None => false,
        }
    }

    pub(crate) fn summaries(&self) -> Vec<JobSummary> {
        self.order
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .map(|job| JobSummary {
                id: job.id.clone(),
                account: job.account.clone(),
                target: job.target.clone(),
                domain: job.domain.clone(),
                faulted: matches!(job.ending, Ending::Faulted { .. }),
                callback_url: job.callback_url(),
            })
            .collect()
    }
}
