//! From a job file's text to a `JobSpec`: toml + serde for shape and values, then the
//! rules that span fields (one vendor section, the account); the vendor's table goes to
//! its vendor's parser (`section.rs`).

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::raw::{RAW_JOB_KEYS, RawJob};
use super::section::{JobSections, SectionCtx, SectionParser};
use super::vendors::Vendor;
use super::{AccountIndex, FileRules, JobSpec, job_name_of};
use crate::error::FileError;
use crate::files::{self, Links, ReadError};

const DEFAULT_MAX_ATTEMPTS: u32 = 8;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(6 * 3600);

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
    sections: &JobSections,
) -> Result<JobSpec, FileError> {
    let text = read_job_file(path, rules)?;
    parse_job(path, &text, accounts, rules, sections)
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

/// Parse a job file's text (`path` names it in errors and gives the job its name);
/// `sections` are the vendor tables a job may hold.
pub fn parse_job(
    path: &Path,
    text: &str,
    accounts: Option<&AccountIndex>,
    rules: &FileRules,
    sections: &JobSections,
) -> Result<JobSpec, FileError> {
    let name = job_name_of(path)?;
    if text.trim().is_empty() {
        return Err(FileError::whole(
            path,
            "the job file is empty: it needs at least `vendor = \"...\"` and that vendor's section",
        ));
    }
    let ctx = Ctx { path, text };
    let (raw, tables) = ctx.split(sections)?;
    let vendor = *raw.vendor.get_ref();
    let (parser, table) = ctx.one_vendor_section(&raw, tables)?;
    let account = ctx.account(&raw, vendor, accounts)?;
    let section = SectionCtx {
        path,
        text,
        rules,
        job_name: name.as_str(),
    };
    let work = parser.parse(table, &section)?;
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

/// A vendor table found in the file, with the parser of its vendor.
type Table<'t> = (SectionParser, Spanned<DeValue<'t>>);

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Ctx<'a> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError::at(self.path, self.text, Some(span), message)
    }

    fn toml_error(&self, e: &toml::de::Error) -> FileError {
        FileError::from_toml(self.path, self.text, e)
    }

    /// The keys every job has, and the vendor tables (in file order) set apart for
    /// their vendors' parsers. An unknown key is refused as serde refuses one, naming
    /// the vendor tables among the keys a job takes; of several errors, the one
    /// reported is the first in the order serde visits the keys, as when each vendor
    /// table was a field of one struct.
    fn split(&self, sections: &JobSections) -> Result<(RawJob, Vec<Table<'a>>), FileError> {
        let root = DeTable::parse(self.text).map_err(|e| self.toml_error(&e))?;
        let span = root.span();
        let mut table = root.into_inner();
        let visits = VisitOrder::of(&table);
        let mut tables: Vec<Table<'a>> = sections
            .keys()
            .filter_map(|key| Some((*sections.get(key)?, table.remove(key)?)))
            .collect();
        tables.sort_by_key(|(_, t)| t.span().start);
        let table_error = tables
            .iter()
            .filter_map(|(parser, t)| parser.shape(t.clone()).err())
            .min_by_key(|e| visits.index(e));
        // Where the keys no job takes are: serde's error about one of them is the one
        // to reword (not one about a key inside `[retention]`).
        let strays: Vec<Range<usize>> = table
            .keys()
            .filter(|k| !RAW_JOB_KEYS.contains(&k.get_ref().as_ref()))
            .map(|k| k.span())
            .collect();
        let common = Spanned::new(span, DeValue::Table(table));
        let raw = RawJob::deserialize(ValueDeserializer::from(common));
        let common_error = |e: &toml::de::Error| {
            let mut error = self.toml_error(e);
            let stray = e.span().is_some_and(|s| strays.contains(&s));
            if let Some(key) = unknown_key(e.message()).filter(|_| stray) {
                error.message = unknown_key_message(key, sections);
            }
            error
        };
        match (raw, table_error) {
            (Ok(raw), None) => Ok((raw, tables)),
            (Err(e), Some(t)) if visits.index(&t) < visits.index(&e) => Err(self.toml_error(&t)),
            (Err(e), _) => Err(common_error(&e)),
            (Ok(_), Some(t)) => Err(self.toml_error(&t)),
        }
    }

    fn one_vendor_section(
        &self,
        raw: &RawJob,
        mut tables: Vec<Table<'a>>,
    ) -> Result<Table<'a>, FileError> {
        let vendor = *raw.vendor.get_ref();
        let found: Vec<(Vendor, Range<usize>)> =
            tables.iter().map(|(p, t)| (p.vendor, t.span())).collect();
        // In file order, so the error points at the second section as written.
        match found.as_slice() {
            [] => Err(self.err(
                raw.vendor.span(),
                format!("vendor = \"{vendor}\" but the file has no [{vendor}] section: add one saying what to collect"),
            )),
            [(v, _)] if *v == vendor => Ok(tables.remove(0)),
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
}

/// The order serde visits a document's top-level keys in (the toml map's), each key
/// with where its entry starts in the file.
struct VisitOrder(Vec<usize>);

impl VisitOrder {
    fn of(table: &DeTable<'_>) -> Self {
        VisitOrder(
            table
                .iter()
                .map(|(k, v)| k.span().start.min(v.span().start))
                .collect(),
        )
    }

    /// When serde meets `e`: at the entry it is in (the last to start before it); a
    /// missing key, once every key is visited.
    fn index(&self, e: &toml::de::Error) -> usize {
        let at = match e.span() {
            Some(span) if !e.message().starts_with("missing field") => span.start,
            _ => return usize::MAX,
        };
        let entry = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, start)| **start <= at)
            .max_by_key(|(_, start)| **start);
        entry.map_or(usize::MAX, |(i, _)| i)
    }
}

/// The key of serde's "unknown field `K`, expected one of ..." message.
fn unknown_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split_once("`, expected")?.0)
}

/// serde's message for an unknown key, with the vendor tables among the keys a job
/// takes (as when they were fields of one struct).
fn unknown_key_message(key: &str, sections: &JobSections) -> String {
    let keys: Vec<String> = RAW_JOB_KEYS
        .iter()
        .copied()
        .chain(sections.keys())
        .map(|k| format!("`{k}`"))
        .collect();
    format!("unknown field `{key}`, expected one of {}", keys.join(", "))
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
