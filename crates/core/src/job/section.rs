//! A job file's vendor table (`[octoparse]`, `[zyte]`, …): each vendor crate parses and
//! checks its own ([`JobSection`], in its `job.rs`), so the keys, defaults and rules of
//! a vendor's jobs live beside its executor. Core parses the keys every job has and
//! hands the one vendor table over, with a [`SectionCtx`] to say where an error is and
//! to read input lists; the binary lists the vendors' sections ([`JobSections`]).

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::vendors::{InputList, Vendor};
use super::{FileRules, VendorJob, for_each_input};
use crate::error::FileError;
use crate::files;

/// A vendor's `[NAME]` table as written (serde + toml: shapes, values, unknown keys,
/// each error at its line and column), and the rules that span its keys.
pub trait JobSection: DeserializeOwned {
    /// Whose table this is: `[NAME]` is `VENDOR.key()`.
    const VENDOR: Vendor;

    /// The job's work, or the error a user reads. `span` is the table's.
    fn check(self, span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError>;
}

/// One vendor's table: its vendor, and how to read it.
#[derive(Clone, Copy)]
pub struct SectionParser {
    pub vendor: Vendor,
    shape: fn(Spanned<DeValue<'_>>) -> Result<(), toml::de::Error>,
    parse: fn(Spanned<DeValue<'_>>, &SectionCtx<'_>) -> Result<VendorJob, FileError>,
}

impl SectionParser {
    /// The parser of `S`'s table.
    pub fn of<S: JobSection>() -> Self {
        SectionParser {
            vendor: S::VENDOR,
            shape: shape_of::<S>,
            parse: parse_section::<S>,
        }
    }

    /// Whether the table reads as `S` (its keys and values), before any other rule.
    pub(super) fn shape(&self, table: Spanned<DeValue<'_>>) -> Result<(), toml::de::Error> {
        (self.shape)(table)
    }

    pub(super) fn parse(
        &self,
        table: Spanned<DeValue<'_>>,
        ctx: &SectionCtx<'_>,
    ) -> Result<VendorJob, FileError> {
        (self.parse)(table, ctx)
    }
}

fn shape_of<S: JobSection>(table: Spanned<DeValue<'_>>) -> Result<(), toml::de::Error> {
    S::deserialize(ValueDeserializer::from(table)).map(drop)
}

fn parse_section<S: JobSection>(
    table: Spanned<DeValue<'_>>,
    ctx: &SectionCtx<'_>,
) -> Result<VendorJob, FileError> {
    let span = table.span();
    let raw = S::deserialize(ValueDeserializer::from(table))
        .map_err(|e| FileError::from_toml(ctx.path, ctx.text, &e))?;
    raw.check(span, ctx)
}

/// The vendor tables a job file may hold, in the order unknown-key errors list them.
#[derive(Clone, Default)]
pub struct JobSections(Vec<SectionParser>);

impl JobSections {
    pub fn new(parsers: Vec<SectionParser>) -> Self {
        JobSections(parsers)
    }

    pub(super) fn get(&self, key: &str) -> Option<&SectionParser> {
        self.0.iter().find(|p| p.vendor.key() == key)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|p| p.vendor.key())
    }
}

/// What a vendor's table is checked with: where it is (errors name the file, line and
/// column), the job's name, and what its input files may be.
pub struct SectionCtx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    pub(super) rules: &'a FileRules,
    pub(super) job_name: &'a str,
}

impl SectionCtx<'_> {
    /// The job's name (its file's stem).
    pub fn job_name(&self) -> &str {
        self.job_name
    }

    /// An error at byte `span` of the file.
    pub fn err(&self, span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError::at(self.path, self.text, Some(span), message)
    }

    /// `urls = [...]` or `urls_file = "..."`, exactly one of them; `section` names the
    /// table in the error when neither is given.
    pub fn url_list(
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

    /// Values given in the file: at least one not blank.
    pub fn inline(
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
    pub fn file_list(
        &self,
        key: &str,
        file: &str,
        span: Range<usize>,
    ) -> Result<InputList, FileError> {
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
