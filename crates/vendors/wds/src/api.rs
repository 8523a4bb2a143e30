//! The WDS calls dredge makes — job start, scrape-multiple (POST body or GET query),
//! crawl and info. What their answers mean is [`crate::answer`]'s.

use crate::account::ScrapeVia;
use dredge_core::job::{WdsField, WdsFollow};
use dredge_core::{Answer, Failure, Outcome, Secret, VendorClient};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::answer::{TEXT_MAX, TaskInfo, classify, describe, parse};
use crate::encode;
use crate::job_config::JobConfig;

/// The tenant header (docs/vendors/wds.md §"Tenant and authentication": the official
/// client sends `X-Tenant-Id: default`).
pub const TENANT_HEADER: &str = "X-Tenant-Id";

/// A call that did not produce its value: what the item comes to instead.
pub type Stop = Outcome;

/// A `DownloadTask`: one page WDS downloads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DownloadTask {
    #[serde(rename = "Id", alias = "id")]
    pub id: String,
    #[serde(rename = "Url", alias = "url")]
    pub url: String,
}

/// One `ScrapeParams` entry, as the POST body carries it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScrapeParam<'a> {
    name: &'a str,
    selector: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribute_name: Option<&'a str>,
}

/// One `ScrapeResult`: the values a named selector found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScrapeResult {
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    #[serde(rename = "Values", alias = "values", default)]
    pub values: Vec<String>,
}

/// One account's connection to its WDS server.
#[derive(Debug, Clone)]
pub struct Api {
    client: VendorClient,
    tenant: HeaderValue,
    token: Option<Secret>,
    scrape_via: ScrapeVia,
}

impl Api {
    pub fn new(
        client: VendorClient,
        tenant: HeaderValue,
        token: Option<Secret>,
        scrape_via: ScrapeVia,
    ) -> Self {
        Api {
            client,
            tenant,
            token,
            scrape_via,
        }
    }

    /// `POST /api/v2/jobs/{jobName}/start`: one DownloadTask per start URL.
    pub async fn start(
        &self,
        job_name: &str,
        config: &JobConfig,
    ) -> Result<Vec<DownloadTask>, Stop> {
        let path = format!("/api/v2/jobs/{}/start", encode::component(job_name));
        let body = serde_json::to_vec(config).unwrap_or_default();
        let request = self
            .request(Method::POST, &path)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let answer = self.call(request, None, "job start").await?;
        parse(&answer, "job start")
    }

    /// scrape-multiple for `fields` on the task's page.
    pub async fn scrape(&self, task: &str, fields: &[WdsField]) -> Result<Vec<ScrapeResult>, Stop> {
        let path = format!("/api/v2/tasks/{}/scrape-multiple", encode::component(task));
        let request = match self.scrape_via {
            ScrapeVia::Post => {
                let params: Vec<ScrapeParam<'_>> = fields
                    .iter()
                    .map(|f| ScrapeParam {
                        name: &f.name,
                        selector: f.selector.as_str(),
                        attribute_name: f.attribute.as_deref(),
                    })
                    .collect();
                let body = serde_json::to_vec(&params).unwrap_or_default();
                self.request(Method::POST, &path)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body)
            }
            ScrapeVia::Get => {
                let path = format!("{path}?{}", encode::query(&scrape_query(fields)));
                self.request(Method::GET, &path)
            }
        };
        let answer = self.call(request, Some(task), "scrape-multiple").await?;
        parse(&answer, "scrape-multiple")
    }

    /// `GET /api/v2/tasks/{id}/crawl` with one follow selector: the links it found.
    pub async fn crawl(&self, task: &str, follow: &WdsFollow) -> Result<Vec<DownloadTask>, Stop> {
        let mut pairs = vec![("selector".to_string(), follow.selector.as_str().to_string())];
        if let Some(attribute) = &follow.attribute {
            pairs.push(("attributeName".to_string(), attribute.clone()));
        }
        let path = format!(
            "/api/v2/tasks/{}/crawl?{}",
            encode::component(task),
            encode::query(&pairs)
        );
        let what = format!("crawl ({})", follow.selector.as_str());
        let answer = self
            .call(self.request(Method::GET, &path), Some(task), &what)
            .await?;
        parse(&answer, &what)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .client
            .http()
            .request(method, self.client.url(path))
            .header(TENANT_HEADER, self.tenant.clone());
        match &self.token {
            // reqwest marks the header sensitive, so it never shows in debug output.
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// Send `request` and classify its answer. `task`, when set, is asked for its
    /// `/info` when the page itself failed (403, 422).
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        task: Option<&str>,
        what: &str,
    ) -> Result<Answer, Stop> {
        let answer = self.client.send(request).await.map_err(Outcome::Retry)?;
        match (answer.status, task) {
            (403 | 422, Some(task)) => Err(self.explain(task, &answer).await),
            _ => classify(answer, task.is_some(), what),
        }
    }

    /// The dead reason of a page that failed (403, 422): the task's `TaskState` by name
    /// and its `Error`, from `/info`. A transient failure of `/info` retries the item.
    async fn explain(&self, task: &str, page: &Answer) -> Stop {
        let page_error = format!("HTTP {}: {}", page.status, page.text(TEXT_MAX));
        let path = format!("/api/v2/tasks/{}/info", encode::component(task));
        let sent = self.client.send(self.request(Method::GET, &path)).await;
        let info = match sent
            .map_err(Outcome::Retry)
            .and_then(|a| classify(a, false, "info"))
        {
            Ok(answer) => answer.json::<TaskInfo>(),
            Err(Outcome::Retry(failure)) => {
                return Outcome::Retry(Failure {
                    message: format!("{page_error}; task info: {}", failure.message),
                    ..failure
                });
            }
            Err(_) => None,
        };
        Outcome::fatal(describe(info, &page_error))
    }
}

/// The GET form of ScrapeParams: `scrapeParams[i].Name`, `.Selector`, `.AttributeName`.
pub(crate) fn scrape_query(fields: &[WdsField]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let key = |part: &str| format!("scrapeParams[{i}].{part}");
        pairs.push((key("Name"), field.name.clone()));
        pairs.push((key("Selector"), field.selector.as_str().to_string()));
        if let Some(attribute) = &field.attribute {
            pairs.push((key("AttributeName"), attribute.clone()));
        }
    }
    pairs
}
