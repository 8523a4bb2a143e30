//! From a job file's text to a `JobSpec`: toml + serde for shape and values, then the
//! rules that span fields (one vendor section, the account, input lists).

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::oxylabs::{self, InputKind};
use super::raw::{RawAutoextract, RawJob, RawOctoparse, RawOxylabs, RawWds, RawZyte, StringOrInt};
use super::values::HumanDuration;
use super::vendors::{
    AutoextractJob, InputList, OctoparseJob, OctoparseMode, OctoparseTasks, OxylabsDelivery,
    OxylabsInputs, OxylabsJob, OxylabsResults, Vendor, WdsJob,
};
use super::zyte::{ZyteJob, geolocation_refusal, param_refusal, toml_to_json};
use super::{AccountIndex, FileRules, JobSpec, VendorJob, for_each_input, job_name_of};
use crate::error::FileError;
use crate::files::{self, Links, ReadError};

const DEFAULT_MAX_ATTEMPTS: u32 = 8;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(6 * 3600);
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// True for names the job directory watcher must ignore: editor temp files (`.*`,
/// `*~`, `*.swp`, `*.tmp`) and anything not ending in `.toml`.
pub fn is_ignored_file_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".tmp")
        || !name.ends_with(".toml")
}

/// Read and parse a job file; input files it names are resolved against its directory
/// and must exist and hold at least one value. `accounts` is `None` when no daemon
/// config is at hand (`dredge validate` without `--config`): any account name is then
/// taken as given, and a job without one gets its vendor's key.
pub fn load_job_file(
    path: &Path,
    accounts: Option<&AccountIndex>,
    rules: &FileRules,
) -> Result<JobSpec, FileError> {
    let text = read_job_file(path, rules)?;
    parse_job(path, &text, accounts, rules)
}

/// A job file's text: a regular file (a symlink to one is fine) of at most
/// `rules.max_job_bytes`, in UTF-8. Never blocks on a FIFO or reads a device.
pub fn read_job_file(path: &Path, rules: &FileRules) -> Result<String, FileError> {
    let bytes = files::read_regular(
        path,
        rules.max_job_bytes,
        "max_job_file_bytes",
        Links::Follow,
    )
    .map_err(|e| {
        let hint = match e {
            ReadError::Io(_) => "; check that it exists and that dredge may read it",
            _ => "",
        };
        FileError::whole(path, format!("cannot read the job file: {e}{hint}"))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| FileError::whole(path, "the job file is not UTF-8 text: save it as UTF-8"))
}

/// Parse a job file's text (`path` names it in errors and gives the job its name).
pub fn parse_job(
    path: &Path,
    text: &str,
    accounts: Option<&AccountIndex>,
    rules: &FileRules,
) -> Result<JobSpec, FileError> {
    let name = job_name_of(path)?;
    if text.trim().is_empty() {
        return Err(FileError::whole(
            path,
            "the job file is empty: it needs at least `vendor = \"...\"` and that vendor's section",
        ));
    }
    let raw: RawJob = toml::from_str(text).map_err(|e| FileError::from_toml(path, text, &e))?;
    let ctx = Ctx { path, text, rules };
    let vendor = *raw.vendor.get_ref();
    ctx.one_vendor_section(&raw)?;
    let account = ctx.account(&raw, vendor, accounts)?;
    let work = ctx.work(
        raw.octoparse,
        raw.oxylabs,
        raw.wds,
        raw.autoextract,
        raw.zyte,
        name.as_str(),
    )?;
    Ok(JobSpec {
        name,
        account,
        schedule: raw.schedule,
        catch_up: raw.catch_up,
        overlap: raw.overlap,
        enabled: raw.enabled,
        max_attempts: raw
            .max_attempts
            .map_or(DEFAULT_MAX_ATTEMPTS, |b| b.get() as u32),
        deadline: raw.deadline.map_or(DEFAULT_DEADLINE, |d| d.0.0),
        work,
        retention: raw.retention.into(),
    })
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
    rules: &'a FileRules,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError::at(self.path, self.text, Some(span), message)
    }

    fn one_vendor_section(&self, raw: &RawJob) -> Result<(), FileError> {
        let mut sections: Vec<(Vendor, Range<usize>)> = [
            raw.octoparse
                .as_ref()
                .map(|s| (Vendor::Octoparse, s.span())),
            raw.oxylabs.as_ref().map(|s| (Vendor::Oxylabs, s.span())),
            raw.wds.as_ref().map(|s| (Vendor::Wds, s.span())),
            raw.autoextract
                .as_ref()
                .map(|s| (Vendor::Autoextract, s.span())),
            raw.zyte.as_ref().map(|s| (Vendor::Zyte, s.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        // In file order, so the error points at the second section as written.
        sections.sort_by_key(|(_, span)| span.start);
        let vendor = *raw.vendor.get_ref();
        match sections.as_slice() {
            [] => Err(self.err(
                raw.vendor.span(),
                format!("vendor = \"{vendor}\" but the file has no [{vendor}] section: add one saying what to collect"),
            )),
            [(v, _)] if *v == vendor => Ok(()),
            [(v, span)] => Err(self.err(
                span.clone(),
                format!("the section [{v}] does not match vendor = \"{vendor}\": rename the section or change `vendor`"),
            )),
            [_, (v, span), ..] => Err(self.err(
                span.clone(),
                format!("a job has exactly one vendor section, but [{v}] is a second one: split it into its own job file"),
            )),
        }
    }

    fn account(
        &self,
        raw: &RawJob,
        vendor: Vendor,
        accounts: Option<&AccountIndex>,
    ) -> Result<String, FileError> {
        let Some(accounts) = accounts else {
            let given = raw.account.as_ref().map(|a| a.get_ref().clone());
            return Ok(given.unwrap_or_else(|| vendor.key().to_string()));
        };
        if let Some(account) = &raw.account {
            let name = account.get_ref();
            return match accounts.vendor_of(name) {
                Some(v) if v == vendor => Ok(name.clone()),
                Some(v) => Err(self.err(
                    account.span(),
                    format!(
                        "account \"{name}\" is a {v} account, not {vendor}: name a {vendor} account"
                    ),
                )),
                None => Err(self.err(account.span(), unknown_account(name, vendor, accounts))),
            };
        }
        match accounts.names_for(vendor).as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(self.err(
                raw.vendor.span(),
                format!("no {vendor} account is configured: add [accounts.NAME] with vendor = \"{vendor}\" to the daemon config"),
            )),
            many => Err(self.err(
                raw.vendor.span(),
                format!("several {vendor} accounts exist ({}): say which with `account = \"...\"`", many.join(", ")),
            )),
        }
    }

    fn work(
        &self,
        octoparse: Option<Spanned<RawOctoparse>>,
        oxylabs: Option<Spanned<RawOxylabs>>,
        wds: Option<Spanned<RawWds>>,
        autoextract: Option<Spanned<RawAutoextract>>,
        zyte: Option<Spanned<RawZyte>>,
        job_name: &str,
    ) -> Result<VendorJob, FileError> {
        if let Some(s) = octoparse {
            let span = s.span();
            return self
                .octoparse(s.into_inner(), span)
                .map(VendorJob::Octoparse);
        }
        if let Some(s) = oxylabs {
            let span = s.span();
            return self.oxylabs(s.into_inner(), span).map(VendorJob::Oxylabs);
        }
        if let Some(s) = wds {
            return self.wds(s.into_inner(), job_name).map(VendorJob::Wds);
        }
        if let Some(s) = zyte {
            let span = s.span();
            return self.zyte(s.into_inner(), span).map(VendorJob::Zyte);
        }
        let s = autoextract.expect("one vendor section was checked to exist");
        let span = s.span();
        self.autoextract(s.into_inner(), span)
            .map(VendorJob::Autoextract)
    }

    fn octoparse(&self, raw: RawOctoparse, span: Range<usize>) -> Result<OctoparseJob, FileError> {
        let tasks = match (raw.task_ids, raw.task_group_id) {
            (Some(ids), None) if ids.get_ref().is_empty() => {
                return Err(self.err(ids.span(), "task_ids is empty: list at least one task id"));
            }
            (Some(ids), None) => OctoparseTasks::Ids(ids.into_inner()),
            (None, Some(group)) => OctoparseTasks::Group(match group.into_inner() {
                StringOrInt::String(s) => s,
                StringOrInt::Int(i) => i.to_string(),
            }),
            (Some(_), Some(group)) => {
                return Err(self.err(
                    group.span(),
                    "give either task_ids or task_group_id, not both",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    span,
                    "[octoparse] needs task_ids = [...] or task_group_id = \"...\"",
                ));
            }
        };
        Ok(OctoparseJob {
            tasks,
            mode: raw.mode.unwrap_or(OctoparseMode::Unexported),
            page_size: raw.page_size.map_or(1000, |p| p.get() as u32),
        })
    }

    fn oxylabs(&self, raw: RawOxylabs, span: Range<usize>) -> Result<OxylabsJob, FileError> {
        let Some(source) = raw.source else {
            return Err(self.err(
                span,
                "[oxylabs] needs `source` (e.g. \"google_search\" or \"universal\")",
            ));
        };
        let kind = raw
            .input_kind
            .unwrap_or_else(|| oxylabs::documented_kind(&source));
        let wrong_key = |list: &str, kind: &str| {
            self.err(
                span.clone(),
                format!("source \"{source}\" takes a {kind} per job in Oxylabs' documentation: use {list} = [...] (or say input_kind = \"...\" if your source differs)"),
            )
        };
        let inputs = match (raw.queries, raw.urls, raw.input_file) {
            (Some(_), None, None) if kind == InputKind::Url => {
                return Err(wrong_key("urls", "url"));
            }
            (None, Some(_), None) if kind == InputKind::Query => {
                return Err(wrong_key("queries", "query"));
            }
            (Some(q), None, None) => {
                OxylabsInputs::Queries(self.inline(q, span.clone(), "queries")?)
            }
            (None, Some(u), None) => OxylabsInputs::Urls(self.inline(u, span.clone(), "urls")?),
            (None, None, Some(f)) => {
                let list = self.file_list("input_file", &f, span.clone())?;
                match kind {
                    InputKind::Url => OxylabsInputs::Urls(list),
                    InputKind::Query => OxylabsInputs::Queries(list),
                }
            }
            (None, None, None) => {
                return Err(self.err(
                    span,
                    "[oxylabs] needs one of queries = [...], urls = [...] or input_file = \"...\"",
                ));
            }
            _ => {
                return Err(self.err(
                    span,
                    "[oxylabs] takes only one of queries, urls and input_file",
                ));
            }
        };
        let delivery = raw.delivery.unwrap_or(OxylabsDelivery::Poll);
        if delivery == OxylabsDelivery::Callback && raw.callback_url.is_none() {
            return Err(self.err(
                span,
                "delivery = \"callback\" needs callback_url = \"https://...\": the public URL Oxylabs posts to",
            ));
        }
        let results = raw.results.unwrap_or(OxylabsResults::Parsed);
        let params = oxylabs::params(raw.params, results).map_err(|m| self.err(span.clone(), m))?;
        Ok(OxylabsJob {
            source,
            inputs,
            params_json: serde_json::Value::Object(params).to_string(),
            results,
            delivery,
            poll_interval: raw
                .poll_interval
                .map_or(HumanDuration(DEFAULT_POLL_INTERVAL), |d| d.0),
            callback_url: raw.callback_url.map(String::from),
        })
    }

    fn autoextract(
        &self,
        raw: RawAutoextract,
        span: Range<usize>,
    ) -> Result<AutoextractJob, FileError> {
        let urls = match (raw.urls, raw.urls_file) {
            (Some(urls), None) => {
                let s = urls.span();
                self.inline(urls.into_inner(), s, "urls")?
            }
            (None, Some(file)) => {
                let s = file.span();
                self.file_list("urls_file", file.get_ref(), s)?
            }
            (Some(_), Some(file)) => {
                return Err(self.err(file.span(), "give either urls or urls_file, not both"));
            }
            (None, None) => {
                return Err(self.err(
                    span,
                    "[autoextract] needs urls = [...] or urls_file = \"...\"",
                ));
            }
        };
        Ok(AutoextractJob {
            page_type: raw.page_type,
            urls,
            article_body_raw: raw.article_body_raw,
        })
    }

    fn zyte(&self, raw: RawZyte, span: Range<usize>) -> Result<ZyteJob, FileError> {
        let urls = self.url_list(raw.urls, raw.urls_file, span, "[zyte]")?;
        if let Some(geo) = &raw.geolocation
            && let Some(why) = geolocation_refusal(geo.get_ref())
        {
            return Err(self.err(geo.span(), why));
        }
        let mut params = serde_json::Map::new();
        for (key, value) in raw.params.map(Spanned::into_inner).unwrap_or_default() {
            if let Some(why) = param_refusal(key.get_ref()) {
                return Err(self.err(key.span(), why));
            }
            params.insert(key.into_inner(), toml_to_json(value));
        }
        Ok(ZyteJob {
            extract: raw.extract,
            extract_from: raw.extract_from,
            geolocation: raw.geolocation.map(Spanned::into_inner),
            urls,
            params_json: serde_json::Value::Object(params).to_string(),
        })
    }

    /// `urls = [...]` or `urls_file = "..."`, exactly one of them.
    fn url_list(
        &self,
        urls: Option<Spanned<Vec<String>>>,
        urls_file: Option<Spanned<String>>,
        span: Range<usize>,
        section: &str,
    ) -> Result<InputList, FileError> {
        match (urls, urls_file) {
            (Some(urls), None) => {
                let s = urls.span();
                self.inline(urls.into_inner(), s, "urls")
            }
            (None, Some(file)) => {
                let s = file.span();
                self.file_list("urls_file", file.get_ref(), s)
            }
            (Some(_), Some(file)) => {
                Err(self.err(file.span(), "give either urls or urls_file, not both"))
            }
            (None, None) => Err(self.err(
                span,
                format!("{section} needs urls = [...] or urls_file = \"...\""),
            )),
        }
    }

    fn wds(&self, raw: RawWds, job_name: &str) -> Result<WdsJob, FileError> {
        if raw.start_urls.get_ref().is_empty() {
            return Err(self.err(
                raw.start_urls.span(),
                "start_urls is empty: give at least one URL",
            ));
        }
        if raw.fields.get_ref().is_empty() {
            return Err(self.err(
                raw.fields.span(),
                "fields is empty: name at least one field to scrape",
            ));
        }
        Ok(WdsJob {
            job_name: raw.job_name.unwrap_or_else(|| job_name.to_string()),
            start_urls: raw.start_urls.into_inner(),
            crawl_delay: raw.crawl_delay,
            follow: raw.follow,
            max_depth: raw.max_depth.map_or(3, |d| d.get() as u32),
            max_pages: raw.max_pages.map_or(10_000, |p| p.get() as u64),
            fields: raw.fields.into_inner(),
            restart: raw.restart,
        })
    }

    fn inline(
        &self,
        values: Vec<String>,
        span: Range<usize>,
        key: &str,
    ) -> Result<InputList, FileError> {
        if values.iter().all(|v| v.trim().is_empty()) {
            return Err(self.err(span, format!("{key} is empty: give at least one value")));
        }
        Ok(InputList::Inline(values))
    }

    /// An input file, relative to the job file's directory (or absolute), inside that
    /// directory or `inputs_dir`; it must be a readable regular file within the size cap
    /// and hold at least one value now (it is read again when each run starts). Errors
    /// never quote the file's content.
    fn file_list(&self, key: &str, file: &str, span: Range<usize>) -> Result<InputList, FileError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut roots = vec![dir.to_path_buf()];
        roots.extend(self.rules.inputs_dir.clone());
        let path = files::confine(dir, file, &roots)
            .map_err(|m| self.err(span.clone(), format!("{key}: {m}")))?;
        // Read up to its first value only: a run start reads it whole (streamed), and
        // a rescan of the jobs directory must not read a million lines per job.
        let seen = for_each_input(&InputList::File(path.clone()), self.rules, |_| Ok(false))
            .map_err(|m| self.err(span.clone(), format!("{key}: cannot read {m}")))?;
        if seen == 0 {
            return Err(self.err(
                span,
                format!(
                    "{key}: input file {} holds no values: one per line",
                    path.display()
                ),
            ));
        }
        Ok(InputList::File(path))
    }
}

fn unknown_account(name: &str, vendor: Vendor, accounts: &AccountIndex) -> String {
    let known = accounts.names_for(vendor);
    if known.is_empty() {
        format!(
            "account \"{name}\" is not configured: add [accounts.{name}] with vendor = \"{vendor}\" to the daemon config"
        )
    } else {
        format!(
            "account \"{name}\" is not configured; {vendor} accounts are: {}",
            known.join(", ")
        )
    }
}
