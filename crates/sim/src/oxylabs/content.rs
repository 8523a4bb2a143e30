//! Result content synthesised per job target: raw HTML, parsed JSON (with its
//! `parse_status_code`), a real PNG and markdown, stable for the same seed and target.
//! A type the job did not enable comes back with empty content
//! (docs/vendors/oxylabs.md §"Result types").

use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use super::jobs::{Ending, Job, timestamp};
use crate::common::rng_for;

/// Which result type a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Raw,
    Parsed,
    Png,
    Markdown,
}

impl Kind {
    /// The `?type=` value, or the job's default (parsed when `parse`, png when
    /// `render=png`, raw otherwise). `None` for an unknown type.
    pub(crate) fn requested(given: Option<&String>, job: &Job) -> Option<Kind> {
        match given.map(String::as_str) {
            Some("raw") => Some(Kind::Raw),
            Some("parsed") => Some(Kind::Parsed),
            Some("png") => Some(Kind::Png),
            Some("markdown") => Some(Kind::Markdown),
            Some(_) => None,
            None if job.params.get("parse").and_then(Value::as_bool) == Some(true) => {
                Some(Kind::Parsed)
            }
            None if job.params.get("render").and_then(Value::as_str) == Some("png") => {
                Some(Kind::Png)
            }
            None => Some(Kind::Raw),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Parsed => "parsed",
            Kind::Png => "png",
            Kind::Markdown => "markdown",
        }
    }

    /// Whether `job` enabled this type: `"parse": true` for parsed, `"render": "png"`
    /// for png, `"markdown": true` for markdown
    /// (docs/vendors/oxylabs.md §"Result types"). Raw is always there.
    fn enabled(self, job: &Job) -> bool {
        let flag = |key: &str| job.params.get(key);
        match self {
            Kind::Raw => true,
            Kind::Parsed => flag("parse").and_then(Value::as_bool) == Some(true),
            Kind::Png => flag("render").and_then(Value::as_str) == Some("png"),
            Kind::Markdown => flag("markdown").and_then(Value::as_bool) == Some(true),
        }
    }
}

/// A 1×1 PNG, so clients that decode images get a real one.
pub(super) const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// One entry of `results[]`.
pub(crate) fn result_item(job: &Job, ending: Ending, kind: Kind, seed: u64) -> Value {
    result_page(job, ending, kind, seed, 1)
}

// docs/vendors/oxylabs.md §"Result types": one `results[]` entry per page.
/// Every result page of a job: `start_page` (default 1) and on, `pages` of them
/// (default 1). Each page is its own `results[]` entry with its `page` number.
pub(crate) fn result_items(job: &Job, ending: Ending, kind: Kind, seed: u64) -> Vec<Value> {
    let number = |key: &str| job.params.get(key).and_then(Value::as_u64).unwrap_or(1);
    let (start, pages) = (number("start_page"), number("pages").clamp(1, 100));
    (start..start + pages)
        .map(|page| result_page(job, ending, kind, seed, page))
        .collect()
}

fn result_page(job: &Job, ending: Ending, kind: Kind, seed: u64, page: u64) -> Value {
    let (status_code, content) = match ending {
        // docs/vendors/oxylabs.md §"Answers by endpoint": a faulted job's 613 is only
        // inside its result, with empty content.
        Ending::Faulted { code } => (code, json!("")),
        Ending::Done { .. } if !kind.enabled(job) => (200, json!("")),
        Ending::Done { parse_failed } => (200, content(job, kind, parse_failed, seed)),
    };
    json!({
        "content": content,
        "created_at": timestamp(job.created_at),
        "updated_at": timestamp(job.finished_at),
        "page": page,
        "url": page_url(job),
        "job_id": job.id,
        "status_code": status_code,
        "type": kind.word(),
    })
}

fn content(job: &Job, kind: Kind, parse_failed: bool, seed: u64) -> Value {
    match kind {
        Kind::Raw => json!(html(job, seed)),
        // docs/vendors/oxylabs.md §"Result types": png content is base64 text.
        Kind::Png => json!(base64::engine::general_purpose::STANDARD.encode(TINY_PNG)),
        Kind::Parsed if parse_failed => json!({
            "url": page_url(job),
            "page": 1,
            // docs/vendors/oxylabs.md §"Job JSON": 12002, could not parse.
            "parse_status_code": 12002,
        }),
        Kind::Parsed => parsed(job, seed),
        Kind::Markdown => json!(markdown(job, seed)),
    }
}

/// The page a job fetched: its URL, or a search URL made from its query.
fn page_url(job: &Job) -> String {
    if job.params.contains_key("url") {
        return job.target.clone();
    }
    let query: String = job
        .target
        .chars()
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    format!("https://www.{}/search?q={query}&hl=en", job.domain)
}

struct Item {
    title: String,
    url: String,
    price: f64,
}

fn items(job: &Job, seed: u64) -> Vec<Item> {
    let mut rng = rng_for(seed, &job.target);
    let count = rng.random_range(3..=8);
    (1..=count)
        .map(|pos| {
            let word = WORDS[rng.random_range(0..WORDS.len())];
            Item {
                title: format!(
                    "{word} {} #{pos}",
                    job.target.chars().take(30).collect::<String>()
                ),
                url: format!(
                    "https://{}/item/{}",
                    job.domain,
                    rng.random_range(1000..99999)
                ),
                price: f64::from(rng.random_range(199..99999_u32)) / 100.0,
            }
        })
        .collect()
}

const WORDS: &[&str] = &[
    "Best", "Cheap", "Original", "New", "Classic", "Premium", "Used",
];

fn html(job: &Job, seed: u64) -> String {
    let list: String = items(job, seed)
        .iter()
        .map(|i| {
            format!(
                "<li class=\"result\"><a href=\"{}\">{}</a><span class=\"price\">{:.2}</span></li>",
                escape(&i.url),
                escape(&i.title),
                i.price
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><title>{t}</title></head><body><h1>{t}</h1><ul>{list}</ul></body></html>",
        t = escape(&job.target)
    )
}

/// The page as markdown: the same items as the HTML, one list entry each.
fn markdown(job: &Job, seed: u64) -> String {
    let list: String = items(job, seed)
        .iter()
        .map(|i| format!("- [{}]({}) {:.2}\n", i.title, i.url, i.price))
        .collect();
    format!("# {}\n\n{list}", job.target)
}

fn parsed(job: &Job, seed: u64) -> Value {
    let organic: Vec<Value> = items(job, seed)
        .iter()
        .enumerate()
        .map(|(i, item)| json!({"pos": i + 1, "url": item.url, "title": item.title, "price": item.price}))
        .collect();
    json!({
        "url": page_url(job),
        "page": 1,
        "results": { "organic": organic },
        "last_visible_page": 1,
        "parse_status_code": 12000,
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
