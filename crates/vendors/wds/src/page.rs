//! One page of the crawl: scrape-multiple for its record, then one crawl per follow
//! selector for its links, in one execution when the server answers them all.
//!
//! A call that does not answer (202, 5xx, a dead end) before anything was done this
//! execution is simply the item's outcome. After something was done, the finished
//! steps are staged (the record, the links) and the remaining steps become a
//! continuation item (see [`PageWork`]) stopped by that call: the retry policy starts
//! it as it would leave the item — waiting for the poll delay, retrying with one more
//! attempt, or dead. So no answered call is sent twice and no record is written twice.

use dredge_core::job::WdsJob;
use dredge_core::{
    Completion, Continuation, ItemContext, JsonText, NewItem, Outcome, Record, UnixMillis,
};
use serde_json::{Map, Value, json};

use crate::api::{Api, DownloadTask, ScrapeResult, Stop};
use crate::payload::{PageWork, Payload};
use crate::urls;

/// What one execution of a page item needs.
pub struct PageRun<'a> {
    pub api: &'a Api,
    pub job: &'a WdsJob,
    pub item: &'a ItemContext,
}

/// What the steps done so far produced.
#[derive(Default)]
struct Gathered {
    records: Vec<Record>,
    follow_ups: Vec<NewItem>,
}

impl PageRun<'_> {
    pub async fn run(&self, page: PageWork) -> Outcome {
        let mut now = page.clone();
        let mut gathered = Gathered::default();
        if !now.scraped {
            match self.api.scrape(&now.task, &self.job.fields).await {
                Ok(results) => gathered.records.push(self.record(&now, results)),
                Err(stop) => return self.stopped(stop, &page, now, gathered),
            }
            now.scraped = true;
        }
        // Pages at the depth limit have no links worth asking for.
        if now.depth < self.job.max_depth {
            while let Some(follow) = self.job.follow.get(now.next_follow) {
                match self.api.crawl(&now.task, follow).await {
                    Ok(found) => gathered.follow_ups.extend(self.links(&now, found)),
                    Err(stop) => return self.stopped(stop, &page, now, gathered),
                }
                now.next_follow += 1;
            }
        }
        Outcome::Done(Completion {
            records: gathered.records,
            follow_ups: gathered.follow_ups,
            ..Completion::default()
        })
    }

    /// A call stopped at `now` (the steps done) of an item that began at `began`.
    fn stopped(&self, stop: Stop, began: &PageWork, now: PageWork, gathered: Gathered) -> Outcome {
        // Nothing done this time, or credentials refused (the account stops; repeating
        // the steps later is harmless): the call's outcome is the item's.
        if &now == began || matches!(stop, Outcome::AuthFailed { .. }) {
            return stop;
        }
        let mut snoozes = Vec::new();
        if let Outcome::Snooze(snooze) = &stop {
            snoozes.push(snooze.clone());
        }
        let rest = NewItem::ready(now.url.clone(), Payload::Page(now).encode());
        let rest = Continuation::after(rest, stop).with_done("page scraped, links not followed");
        Outcome::Done(Completion {
            records: gathered.records,
            follow_ups: gathered.follow_ups,
            continuations: vec![rest],
            snoozes,
        })
    }

    /// The page's record: `{"url": ..., "fields": {name: [values]}}` in the job's names.
    fn record(&self, page: &PageWork, results: Vec<ScrapeResult>) -> Record {
        let mut fields = Map::new();
        for field in &self.job.fields {
            let values: Vec<Value> = results
                .iter()
                .filter(|r| r.name == field.name)
                .flat_map(|r| r.values.iter().cloned().map(Value::String))
                .collect();
            fields.insert(field.name.clone(), Value::Array(values));
        }
        Record {
            source: page.url.clone(),
            item: self.item.label.clone(),
            fetched_at: UnixMillis::now(),
            data: JsonText::from_value(&json!({ "url": page.url, "fields": fields })),
            attachment: None,
        }
    }

    /// Links found on `page` as page items one level deeper, deduplicated per run by
    /// normalised URL and capped at `max_pages` pages per run.
    fn links(&self, page: &PageWork, found: Vec<DownloadTask>) -> Vec<NewItem> {
        found
            .into_iter()
            .filter_map(|task| page_item(task, page.depth + 1, self.job.max_pages))
            .collect()
    }
}

/// A page item for a DownloadTask; `None` (and a warning) for a task without id or URL.
pub fn page_item(task: DownloadTask, depth: u32, max_pages: u64) -> Option<NewItem> {
    if task.id.trim().is_empty() || task.url.trim().is_empty() {
        tracing::warn!(id = %task.id, url = %task.url, "WDS returned a download task without id or URL; skipped");
        return None;
    }
    let key = urls::normalise(&task.url);
    let work = PageWork {
        task: task.id,
        url: task.url.clone(),
        depth,
        scraped: false,
        next_follow: 0,
    };
    Some(
        NewItem::ready(task.url, Payload::Page(work).encode())
            .with_dedupe_key(key)
            .with_cap(max_pages),
    )
}
