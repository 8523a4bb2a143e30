//! Callbacks: when a job with a `callback_url` finishes, POST its job JSON there — once,
//! with no retry (as the vendor documents none) — unless the "lost callback" dice say
//! it never leaves.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Shared;
use super::jobs::{Job, Phase};

impl Shared {
    /// Schedule the callback of a freshly created job, if it asked for one.
    // docs/vendors/oxylabs.md §"Callbacks": one POST of the job JSON, no documented retry.
    pub(crate) fn start_callback(self: &Arc<Self>, job: &Job) {
        let Some(url) = job.callback_url() else {
            return;
        };
        let shared = self.clone();
        let job = job.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(job.finish_at.into()).await;
            shared.send_callback(&job, &url).await;
        });
    }

    async fn send_callback(&self, job: &Job, url: &str) {
        if self.dice.chance(self.config().lost_callback_share) {
            self.counters.callbacks_lost.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let body = job.to_json(Phase::Finished(job.ending));
        let sent = self.http.post(url).json(&body).send().await;
        let counter = match sent {
            Ok(response) if response.status().is_success() => &self.counters.callbacks_sent,
            _ => &self.counters.callbacks_failed,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}
