//! Download tasks and jobs: which URL a task fetches, how many polls it answers 202
//! before its page is "downloaded", its `TaskState`, and the `TaskInfo` JSON.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::site::Site;

/// `DownloadTaskStates` with the vendor's numbers (docs/vendors/wds.md §"Task states").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Handled = 0,
    AccessDeniedForRobots = 1,
    AllRequestGatesExhausted = 2,
    Created = 10,
    InProgress = 11,
    Deleted = 12,
}

impl TaskState {
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Handled => "Handled",
            TaskState::AccessDeniedForRobots => "AccessDeniedForRobots",
            TaskState::AllRequestGatesExhausted => "AllRequestGatesExhausted",
            TaskState::Created => "Created",
            TaskState::InProgress => "InProgress",
            TaskState::Deleted => "Deleted",
        }
    }

    // docs/vendors/wds.md §"Task states": names or numbers (unconfirmed which v2 sends).
    /// The JSON form: a name, or the number when the server is configured so.
    pub(crate) fn to_json(self, as_number: bool) -> Value {
        if as_number {
            json!(self as u8)
        } else {
            json!(self.name())
        }
    }
}

/// One download task.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub tenant: String,
    pub job: String,
    pub url: String,
    /// The site page the URL names (`None`: the site answers 404 for it).
    pub page: Option<usize>,
    /// How many polls answer 202 before the page counts as downloaded.
    pub queued_polls: u32,
    /// Polls (crawl / scrape / scrape-multiple) answered so far.
    pub polls: u32,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
}

impl Task {
    pub(crate) fn state(&self, site: &Site) -> TaskState {
        if self.deleted {
            TaskState::Deleted
        } else if self.polls < self.queued_polls {
            if self.polls == 0 {
                TaskState::Created
            } else {
                TaskState::InProgress
            }
        } else {
            match self.page {
                Some(id) if site.is_robots_denied(id) => TaskState::AccessDeniedForRobots,
                Some(id) if site.is_gates_exhausted(id) => TaskState::AllRequestGatesExhausted,
                _ => TaskState::Handled,
            }
        }
    }

    // docs/vendors/wds.md §"API versions and paths".
    /// The `{"Id","Url"}` DownloadTask.
    pub(crate) fn download_task(&self) -> Value {
        json!({ "Id": self.id, "Url": self.url })
    }

    // docs/vendors/wds.md §"Task states": v2.0 fields (`Error`, `TaskState`, `Result`,
    // `IntermedResults`).
    /// The `DownloadTaskStatus` of `/info`.
    pub(crate) fn info(&self, site: &Site, as_number: bool) -> Value {
        let state = self.state(site);
        let error = match state {
            TaskState::AccessDeniedForRobots => {
                json!(format!("Access to {} is denied by robots.txt", self.url))
            }
            TaskState::AllRequestGatesExhausted => json!(format!(
                "All request gates were exhausted but no data was received from {}",
                self.url
            )),
            _ => Value::Null,
        };
        let result = match state {
            TaskState::Handled => self.download_info(),
            _ => Value::Null,
        };
        json!({
            "Error": error,
            "TaskState": state.to_json(as_number),
            "Result": result,
            "IntermedResults": [],
        })
    }

    fn download_info(&self) -> Value {
        let (code, reason) = if self.page.is_some() {
            (200, "OK")
        } else {
            (404, "Not Found")
        };
        json!({
            "Method": "GET",
            "Url": self.url,
            "IsSuccess": code == 200,
            "HttpStatusCode": code,
            "ReasonPhrase": reason,
            "RequestHeaders": [{"Name": "User-Agent", "Values": ["Mozilla/5.0 (compatible; WDS)"]}],
            "ResponseHeaders": [{"Name": "Content-Type", "Values": ["text/html; charset=utf-8"]}],
            "RequestCookies": [],
            "ResponseCookies": [],
            "RequestDateUtc": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DownloadTimeSec": 0.12,
            "ViaProxy": false,
            "WaitTimeSec": 0.0,
            "CrawlDelaySec": 0,
        })
    }
}

/// All tasks and jobs of one simulator.
#[derive(Debug, Default)]
pub(crate) struct TaskStore {
    tasks: HashMap<String, Task>,
    /// `(tenant, job name)` → URL → task id.
    jobs: HashMap<(String, String), HashMap<String, String>>,
    order: Vec<String>,
}

impl TaskStore {
    pub(crate) fn get(&self, tenant: &str, id: &str) -> Option<&Task> {
        self.tasks.get(id).filter(|t| t.tenant == tenant)
    }

    pub(crate) fn get_mut(&mut self, tenant: &str, id: &str) -> Option<&mut Task> {
        self.tasks.get_mut(id).filter(|t| t.tenant == tenant)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.tasks.contains_key(id)
    }

    /// The job's task for `url`, if one exists.
    pub(crate) fn task_for(&self, tenant: &str, job: &str, url: &str) -> Option<&Task> {
        let id = self
            .jobs
            .get(&(tenant.to_string(), job.to_string()))?
            .get(url)?;
        self.tasks.get(id)
    }

    pub(crate) fn insert(&mut self, task: Task) {
        let key = (task.tenant.clone(), task.job.clone());
        self.jobs
            .entry(key)
            .or_default()
            .insert(task.url.clone(), task.id.clone());
        self.order.push(task.id.clone());
        self.tasks.insert(task.id.clone(), task);
    }

    // docs/vendors/wds.md §"Restart modes".
    /// `JobRestartMode: FromScratch`: the job's old tasks are deleted.
    pub(crate) fn restart(&mut self, tenant: &str, job: &str) {
        let key = (tenant.to_string(), job.to_string());
        for id in self.jobs.remove(&key).unwrap_or_default().into_values() {
            if let Some(task) = self.tasks.get_mut(&id) {
                task.deleted = true;
            }
        }
    }

    /// Every task, in creation order.
    pub(crate) fn all(&self) -> Vec<Task> {
        self.order
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .cloned()
            .collect()
    }
}
