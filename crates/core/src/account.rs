//! Vendor accounts (`[accounts.NAME]` in the daemon config, README
//! "Configuration"): where to reach
//! the vendor, how to authenticate, and the limits every request shares.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::FileError;
use crate::files::{self, Links, MAX_SMALL_FILE_BYTES};
use crate::http::DEFAULT_MAX_RESPONSE_BYTES;
use crate::job::Vendor;
use crate::job::values::{Bounded, DurationIn, Rate};
use crate::secret::{Secret, SecretText};

/// An account as written in the config file. Field docs are the user reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub vendor: Vendor,
    /// API root; dredge appends the documented paths. Required for `wds`.
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretText>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub api_key: Option<SecretText>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
    pub token: Option<SecretText>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// WDS: sent as `X-Tenant-Id` (default `default`).
    pub tenant: Option<String>,
    /// Governor quota for this account (requests per second; fractions allowed).
    pub requests_per_second: Option<Rate>,
    /// Calls in flight at once (default 4).
    pub max_concurrency: Option<Bounded<1, 1024>>,
    /// Per-request timeout (default 60s; AutoExtract 660s, above its 600 s query limit;
    /// Zyte API 320s, above its 200 s request limit).
    pub timeout: Option<DurationIn<1, 86_400>>,
    /// Octoparse: `legacy` (Data Export API, default) or `openapi`.
    pub flavor: Option<OctoparseFlavor>,
    /// Octoparse: use the acknowledged unexported-data endpoints.
    pub unexported_ack: Option<bool>,
    /// WDS: send scrape-multiple as a JSON body (`post`, default) or as query
    /// parameters (`get`, for proxies that strip bodies).
    pub scrape_via: Option<ScrapeVia>,
    /// Oxylabs: extra CIDRs allowed to post callbacks, besides Oxylabs' published IPs.
    pub callback_allow: Option<Vec<String>>,
    /// Larger answers are refused (a counted retry); default 64 MiB.
    pub max_response_bytes: Option<Bounded<1024, { 16 << 30 }>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OctoparseFlavor {
    #[default]
    Legacy,
    Openapi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeVia {
    #[default]
    Post,
    Get,
}

/// A resolved account: secrets read, defaults applied, rules checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: String,
    pub vendor: Vendor,
    pub base_url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub api_key: Option<Secret>,
    pub token: Option<Secret>,
    pub tenant: String,
    pub requests_per_second: Option<f64>,
    pub max_concurrency: usize,
    pub timeout: Duration,
    pub flavor: OctoparseFlavor,
    pub unexported_ack: bool,
    pub scrape_via: ScrapeVia,
    pub callback_allow: Vec<String>,
    /// Vendor answers larger than this are refused.
    pub max_response_bytes: u64,
}

/// Where an account's definition sits, for error messages.
pub struct AccountSource<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub span: Range<usize>,
}

/// Whether `*_env` and `*_file` secrets are read while resolving an account. `Skip`
/// checks everything else, for `dredge validate --no-secrets` on a machine that lacks
/// the service's credentials (the secret is then an empty placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Read,
    Skip,
}

impl Account {
    /// Check the rules that span keys and read secrets from the environment or files.
    pub fn resolve(
        name: &str,
        raw: AccountConfig,
        at: &AccountSource<'_>,
    ) -> Result<Account, FileError> {
        Self::resolve_checked(name, raw, at, Secrets::Read).map(|(a, _)| a)
    }

    /// [`Account::resolve`], plus warnings about what is legal but unsafe (a secret
    /// file that every user may read).
    pub fn resolve_checked(
        name: &str,
        raw: AccountConfig,
        at: &AccountSource<'_>,
        secrets: Secrets,
    ) -> Result<(Account, Vec<String>), FileError> {
        let mut warnings = Vec::new();
        let err = |m: String| {
            FileError::at(
                at.path,
                at.text,
                Some(at.span.clone()),
                format!("[accounts.{name}]: {m}"),
            )
        };
        check_keys_fit_vendor(&raw).map_err(err)?;
        let mut read = |key, inline: Option<SecretText>, env, file| {
            let inline = inline.map(|s| s.0);
            let source = SecretSource { inline, env, file };
            secret(key, source, secrets, &mut warnings).map_err(err)
        };
        let password = read(
            "password",
            raw.password,
            raw.password_env,
            raw.password_file,
        )?;
        let api_key = read("api_key", raw.api_key, raw.api_key_env, raw.api_key_file)?;
        let token = read("token", raw.token, raw.token_env, raw.token_file)?;
        for w in &mut warnings {
            *w = format!("[accounts.{name}]: {w}");
        }
        let needs = match raw.vendor {
            Vendor::Octoparse | Vendor::Oxylabs if raw.username.is_none() || password.is_none() => {
                Some("needs username and a password (password, password_env or password_file)")
            }
            Vendor::Autoextract | Vendor::Zyte if api_key.is_none() => {
                Some("needs an API key (api_key, api_key_env or api_key_file)")
            }
            Vendor::Wds if raw.base_url.is_none() => {
                Some("needs base_url: WDS is self-hosted, e.g. \"http://wds.internal:2807\"")
            }
            _ => None,
        };
        if let Some(m) = needs {
            return Err(err(m.to_string()));
        }
        let flavor = raw.flavor.unwrap_or_default();
        let base_url = match raw.base_url {
            Some(u) => check_base_url(&u).map_err(err)?,
            None => default_base_url(raw.vendor, flavor).to_string(),
        };
        let account = Account {
            name: name.to_string(),
            vendor: raw.vendor,
            base_url,
            username: raw.username,
            password,
            api_key,
            token,
            tenant: raw.tenant.unwrap_or_else(|| "default".into()),
            requests_per_second: raw.requests_per_second.map(|r| r.0),
            max_concurrency: raw.max_concurrency.map_or(4, |c| c.get() as usize),
            timeout: raw.timeout.map_or(default_timeout(raw.vendor), |t| t.0.0),
            flavor,
            unexported_ack: raw.unexported_ack.unwrap_or(false),
            scrape_via: raw.scrape_via.unwrap_or_default(),
            callback_allow: raw.callback_allow.unwrap_or_default(),
            max_response_bytes: raw
                .max_response_bytes
                .map_or(DEFAULT_MAX_RESPONSE_BYTES, |b| b.get() as u64),
        };
        Ok((account, warnings))
    }
}

fn check_keys_fit_vendor(raw: &AccountConfig) -> Result<(), String> {
    let v = raw.vendor;
    let misplaced = [
        ("flavor", raw.flavor.is_some(), v == Vendor::Octoparse),
        (
            "unexported_ack",
            raw.unexported_ack.is_some(),
            v == Vendor::Octoparse,
        ),
        ("scrape_via", raw.scrape_via.is_some(), v == Vendor::Wds),
        ("tenant", raw.tenant.is_some(), v == Vendor::Wds),
        (
            "callback_allow",
            raw.callback_allow.is_some(),
            v == Vendor::Oxylabs,
        ),
    ];
    match misplaced.iter().find(|(_, set, fits)| *set && !fits) {
        Some((key, _, _)) => Err(format!(
            "`{key}` does not apply to a {v} account: remove it"
        )),
        None => Ok(()),
    }
}

/// The three ways a secret may be given; at most one may be set.
struct SecretSource {
    inline: Option<String>,
    env: Option<String>,
    file: Option<String>,
}

/// A secret given inline, by environment variable, or by file (systemd
/// `LoadCredential=`); surrounding whitespace and the trailing newline are trimmed.
/// A file that every user may read is accepted with a warning.
fn secret(
    key: &str,
    given: SecretSource,
    secrets: Secrets,
    warnings: &mut Vec<String>,
) -> Result<Option<Secret>, String> {
    match (given.inline, given.env, given.file) {
        (None, None, None) => Ok(None),
        (Some(v), None, None) => Ok(Some(Secret::new(v.trim()))),
        (None, Some(_), None) | (None, None, Some(_)) if secrets == Secrets::Skip => {
            Ok(Some(Secret::new("")))
        }
        (None, Some(var), None) => match std::env::var(&var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret::new(v.trim()))),
            Ok(_) => Err(format!(
                "{key}_env: the environment variable {var} is empty"
            )),
            Err(_) => Err(format!(
                "{key}_env: the environment variable {var} is not set in the daemon's environment"
            )),
        },
        (None, None, Some(path)) => {
            let value = secret_file(key, &path)?;
            if let Some(w) = world_readable(key, Path::new(&path)) {
                warnings.push(w);
            }
            Ok(Some(value))
        }
        _ => Err(format!("give only one of {key}, {key}_env and {key}_file")),
    }
}

/// A secret read from a file: a regular file, at most 1 MiB, trimmed, not empty.
pub fn secret_file(key: &str, path: &str) -> Result<Secret, String> {
    match files::read_regular(Path::new(path), MAX_SMALL_FILE_BYTES, "", Links::Follow)
        .map(String::from_utf8)
    {
        Ok(Ok(v)) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(Ok(_)) => Err(format!("{key}_file: {path} is empty")),
        Ok(Err(_)) => Err(format!("{key}_file: {path} is not UTF-8 text")),
        Err(e) => Err(format!("{key}_file: cannot read {path}: {e}")),
    }
}

/// A warning when every user of the machine may read the secret file.
pub fn world_readable(key: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{key}_file: {} is readable by every user (mode {:o}): `chmod o-r` it, or use LoadCredential=",
            path.display(),
            mode & 0o7777
        )
    })
}

fn check_base_url(u: &str) -> Result<String, String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(u.trim_end_matches('/').to_string()),
        _ => Err(format!("base_url {u:?} is not an http:// or https:// URL")),
    }
}

fn default_base_url(vendor: Vendor, flavor: OctoparseFlavor) -> &'static str {
    match (vendor, flavor) {
        // The current help pages document https; credentials must not cross the
        // network in clear text.
        (Vendor::Octoparse, OctoparseFlavor::Legacy) => "https://dataapi.octoparse.com",
        (Vendor::Octoparse, OctoparseFlavor::Openapi) => "https://openapi.octoparse.com",
        (Vendor::Oxylabs, _) => "https://data.oxylabs.io",
        (Vendor::Autoextract, _) => "https://autoextract.scrapinghub.com",
        (Vendor::Zyte, _) => "https://api.zyte.com",
        (Vendor::Wds, _) => "http://localhost:2807",
    }
}

fn default_timeout(vendor: Vendor) -> Duration {
    match vendor {
        // The service may take up to 600 s per query; the official client waits 660 s.
        Vendor::Autoextract => Duration::from_secs(660),
        // Zyte API gives up on a request after 200 s; the official client waits 320 s.
        Vendor::Zyte => Duration::from_secs(320),
        _ => Duration::from_secs(60),
    }
}
