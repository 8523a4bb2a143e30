//! The daemon config (`/etc/dredge/dredge.toml`, README "Configuration"): typed,
//! unknown keys rejected with file:line:col, secrets resolved at load.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dredge_core::FileError;
use dredge_core::Secret;
use dredge_core::Vendor;
use dredge_core::account::{SecretReader, Secrets, secret_file, world_readable};
use dredge_core::files::{
    self, DEFAULT_MAX_INPUT_FILE_BYTES, DEFAULT_MAX_JOB_FILE_BYTES, Links, MAX_SMALL_FILE_BYTES,
};
use dredge_core::job::values::{Bounded, DurationIn};
use dredge_core::job::{AccountIndex, FileRules, Retention, RetentionOverride, RetentionTable};
use dredge_core::secret::SecretText;
use serde::Deserialize;
use toml::de::DeValue;

use crate::account::{self, Account, AccountError, AccountHead};
use crate::groups;
use crate::queue_config::{QueueConfig, RawQueue};
use crate::rpc::Groups;
use toml::Spanned;

pub(crate) const DEFAULT_CONFIG_PATH: &str = "/etc/dredge/dredge.toml";
pub(crate) const DEFAULT_SOCKET: &str = "/run/dredge/dredge.sock";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// sled database and outputs (systemd StateDirectory).
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    /// Where runs' JSONL files are written; default `state_dir/out`. Daemons sharing a
    /// PostgreSQL queue may share it (README "A PostgreSQL queue").
    output_dir: Option<PathBuf>,
    /// Watched for `*.toml` job files.
    #[serde(default = "default_jobs_dir")]
    jobs_dir: PathBuf,
    /// Status socket (systemd RuntimeDirectory).
    #[serde(default = "default_socket")]
    socket: PathBuf,
    #[serde(default)]
    log_format: LogFormat,
    /// Where Oxylabs callbacks are received, e.g. "127.0.0.1:8099", or
    /// `{ address = "0.0.0.0:8099", public = true, secret_file = "..." }`.
    callback_listen: Option<Spanned<Listen>>,
    /// Prometheus metrics over HTTP, e.g. "127.0.0.1:9464" (or the table form).
    metrics_listen: Option<Spanned<Listen>>,
    /// Members may call the read-only methods of the status socket (`dredge status`,
    /// `jobs`, `runs`, `dead`); a group name or number.
    status_group: Option<Spanned<String>>,
    /// Members may call every method; default: the socket file's group.
    control_group: Option<Spanned<String>>,
    /// A second directory job files may take input files from (besides `jobs_dir`).
    inputs_dir: Option<PathBuf>,
    /// Job files larger than this are rejected (default 1 MiB).
    max_job_file_bytes: Option<Bounded<1, MAX_FILE_CAP>>,
    /// Input files larger than this are rejected (default 1 GiB).
    max_input_file_bytes: Option<Bounded<1, MAX_FILE_CAP>>,
    /// Status-socket connections at once (default 256); past it the one waiting
    /// longest for a request is closed. Each is a file descriptor.
    socket_max_connections: Option<Bounded<1, 16_384>>,
    /// A request line must arrive, and an answer be read, within this (default 10 s).
    socket_line_timeout: Option<DurationIn<1, 3_600>>,
    /// How much history to keep (`keep_runs`, `keep_for`, `delete_outputs`); a job
    /// file's own `[retention]` overrides it key by key.
    #[serde(default)]
    retention: RetentionTable,
    /// Each account's `vendor`; the rest of its section is read as that vendor's own
    /// type (`crate::account`).
    #[serde(default)]
    accounts: BTreeMap<String, Spanned<AccountHead>>,
    /// Where runs and items are kept: sled under `state_dir` (default) or PostgreSQL.
    #[serde(default)]
    queue: RawQueue,
}

/// The largest cap a config may set on a file dredge reads into memory (16 GiB).
const MAX_FILE_CAP: i64 = 16 << 30;

fn default_state_dir() -> PathBuf {
    "/var/lib/dredge".into()
}
fn default_jobs_dir() -> PathBuf {
    "/etc/dredge/jobs.d".into()
}
fn default_socket() -> PathBuf {
    DEFAULT_SOCKET.into()
}

/// A TCP listener: an address, or a table that may open it beyond loopback and carry
/// the callback path secret.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Listen {
    Address(SocketAddr),
    Table(ListenTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenTable {
    address: SocketAddr,
    /// Required to listen on a non-loopback address.
    #[serde(default)]
    public: bool,
    /// Callbacks only: a path segment every callback URL must carry.
    secret: Option<SecretText>,
    secret_file: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How much of the status socket one peer may hold: connections at once, and how long
/// a request line (or the reading of an answer) may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketLimits {
    pub max_connections: usize,
    pub line_timeout: std::time::Duration,
}

pub(crate) const DEFAULT_SOCKET_MAX_CONNECTIONS: usize = 256;
pub(crate) const DEFAULT_SOCKET_LINE_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(10);

/// A loaded, valid daemon config.
#[derive(Debug, Clone)]
pub(crate) struct DaemonConfig {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    /// Runs' output files (`output_dir`, default `state_dir/out`).
    pub output_dir: PathBuf,
    pub jobs_dir: PathBuf,
    pub socket: PathBuf,
    pub log_format: LogFormat,
    pub callback_listen: Option<SocketAddr>,
    /// A path segment every Oxylabs callback must carry (behind a proxy).
    pub callback_secret: Option<Secret>,
    pub metrics_listen: Option<SocketAddr>,
    /// Where job files may read input files from, and the size caps.
    pub files: FileRules,
    /// Who may use the status socket besides root and the daemon's user.
    pub socket_groups: Groups,
    /// Status-socket connections at once, and the time a line may take.
    pub socket_limits: SocketLimits,
    /// The history policy of every job whose file does not override it.
    pub retention: Retention,
    pub accounts: BTreeMap<String, Account>,
    /// Where runs and items are kept (`[queue]`); chosen at start.
    pub queue: QueueConfig,
    /// Accounts that did not resolve (a missing secret, a bad base_url), with their
    /// vendor and why: the daemon runs the others, and `dredge validate` reports each.
    /// (Only the tests' strict `parse` fails on the first instead.)
    pub broken_accounts: BTreeMap<String, (Vendor, FileError)>,
    /// What is legal but unsafe (a secret file every user may read): logged and shown
    /// in `dredge status`.
    pub warnings: Vec<String>,
}

impl DaemonConfig {
    /// Read and check the config file, as the daemon runs it. Relative paths in it are
    /// taken relative to the file's directory, so a config works wherever it is run
    /// from. One account that does not resolve (say, its `api_key_file` is missing)
    /// does not stop the others: it is kept in `broken_accounts`. A file that does not
    /// parse, or a key outside any account that is wrong, is an error: nothing to run.
    pub(crate) fn load(path: &Path) -> Result<Self, FileError> {
        Self::load_with(path, Secrets::Read)
    }

    /// Read the config, keeping accounts that fail to resolve in `broken_accounts`
    /// instead of failing (`--no-secrets` skips reading `*_env` and `*_file`).
    pub(crate) fn load_with(path: &Path, secrets: Secrets) -> Result<Self, FileError> {
        let bytes = files::read_regular(path, MAX_SMALL_FILE_BYTES, "", Links::Follow)
            .map_err(|e| FileError::whole(path, format!("cannot read the daemon config: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FileError::whole(
                path,
                "the daemon config is not UTF-8 text: save it as UTF-8",
            )
        })?;
        Self::parse_with(path, &text, secrets)
    }

    #[cfg(test)]
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, FileError> {
        Self::parse_with(path, text, Secrets::Read)?.strict()
    }

    /// Fail on the first broken account.
    #[cfg(test)]
    fn strict(self) -> Result<Self, FileError> {
        match self.broken_accounts.values().next() {
            Some((_, e)) => Err(e.clone()),
            None => Ok(self),
        }
    }

    fn parse_with(path: &Path, text: &str, secrets: Secrets) -> Result<Self, FileError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| FileError::from_toml(path, text, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let gid = |key: &str, group: Option<Spanned<String>>| {
            group
                .map(|g| {
                    groups::gid_of(g.get_ref()).map_err(|m| {
                        FileError::at(path, text, Some(g.span()), format!("{key}: {m}"))
                    })
                })
                .transpose()
        };
        let socket_groups = Groups {
            status: gid("status_group", raw.status_group)?,
            control: gid("control_group", raw.control_group)?,
        };
        let mut warnings = Vec::new();
        let at = |span: std::ops::Range<usize>, m: String| FileError::at(path, text, Some(span), m);
        let (callback_listen, callback_secret) = listener(
            "callback_listen",
            raw.callback_listen,
            secrets,
            &mut warnings,
        )
        .map_err(|(s, m)| at(s, m))?;
        let (metrics_listen, metrics_secret) =
            listener("metrics_listen", raw.metrics_listen, secrets, &mut warnings)
                .map_err(|(s, m)| at(s, m))?;
        if metrics_secret.is_some() {
            return Err(FileError::whole(
                path,
                "metrics_listen: a secret applies to callback_listen only: remove it",
            ));
        }
        let (accounts, broken_accounts) =
            resolve_accounts(path, text, raw.accounts, secrets, &mut warnings)?;
        let state_dir = base.join(raw.state_dir);
        let queue = raw
            .queue
            .resolve(secrets, &state_dir, &mut warnings)
            .map_err(|(span, m)| FileError::at(path, text, span, m))?;
        let output_dir = raw
            .output_dir
            .map_or_else(|| state_dir.join("out"), |d| base.join(d));
        Ok(DaemonConfig {
            path: path.to_path_buf(),
            output_dir,
            state_dir,
            jobs_dir: base.join(raw.jobs_dir),
            socket: base.join(raw.socket),
            log_format: raw.log_format,
            callback_listen,
            callback_secret,
            metrics_listen,
            files: FileRules {
                inputs_dir: raw.inputs_dir.map(|d| base.join(d)),
                max_input_bytes: raw
                    .max_input_file_bytes
                    .map_or(DEFAULT_MAX_INPUT_FILE_BYTES, |b| b.get() as u64),
                max_job_bytes: raw
                    .max_job_file_bytes
                    .map_or(DEFAULT_MAX_JOB_FILE_BYTES, |b| b.get() as u64),
            },
            socket_groups,
            socket_limits: SocketLimits {
                max_connections: raw
                    .socket_max_connections
                    .map_or(DEFAULT_SOCKET_MAX_CONNECTIONS, |n| n.get() as usize),
                line_timeout: raw
                    .socket_line_timeout
                    .map_or(DEFAULT_SOCKET_LINE_TIMEOUT, |d| d.0.0),
            },
            retention: RetentionOverride::from(raw.retention).over(Retention::default()),
            accounts,
            queue,
            broken_accounts,
            warnings,
        })
    }

    /// Account name → vendor, for job files: every configured account, broken ones
    /// included, so a job naming a broken account is checked for its own errors and
    /// then shown as waiting for that account, not as naming an unknown one.
    pub(crate) fn account_index(&self) -> AccountIndex {
        let working = self.accounts.iter().map(|(n, a)| (n.clone(), a.vendor()));
        let broken = self
            .broken_accounts
            .iter()
            .map(|(n, (vendor, _))| (n.clone(), *vendor));
        AccountIndex(working.chain(broken).collect())
    }
}

type Accounts = BTreeMap<String, Account>;
type BrokenAccounts = BTreeMap<String, (Vendor, FileError)>;

/// Each `[accounts.NAME]` as its vendor's section, read again from the file's toml so
/// its errors keep their line and column. A section that does not parse is an error
/// of the file; one that does not resolve is a broken account, kept apart.
fn resolve_accounts(
    path: &Path,
    text: &str,
    heads: BTreeMap<String, Spanned<AccountHead>>,
    secrets: Secrets,
    warnings: &mut Vec<String>,
) -> Result<(Accounts, BrokenAccounts), FileError> {
    let mut accounts = BTreeMap::new();
    let mut broken = BTreeMap::new();
    if heads.is_empty() {
        return Ok((accounts, broken));
    }
    let toml_error = |e: &toml::de::Error| FileError::from_toml(path, text, e);
    let mut document = toml::de::DeTable::parse(text)
        .map_err(|e| toml_error(&e))?
        .into_inner();
    // `heads` parsed from this text, so neither look-up fails; if one ever did, it is
    // an error, never a panic.
    let lost = |what: &str| FileError::whole(path, format!("cannot read {what} again"));
    let mut sections = match document.remove("accounts").map(Spanned::into_inner) {
        Some(DeValue::Table(t)) => t,
        _ => return Err(lost("[accounts]")),
    };
    for (name, head) in heads {
        let vendor = head.get_ref().vendor;
        let section = sections
            .remove(name.as_str())
            .ok_or_else(|| lost(&format!("[accounts.{name}]")))?;
        let span = section.span();
        let section = match section.into_inner() {
            DeValue::Table(mut t) => {
                t.remove("vendor");
                Spanned::new(span.clone(), DeValue::Table(t))
            }
            // serde reads a struct from an array too: `accounts.a = ["zyte"]`.
            _ => {
                return Err(FileError::at(
                    path,
                    text,
                    Some(span),
                    format!(
                        "accounts.{name} is not a table: write [accounts.{name}] with vendor = \"{vendor}\" and its keys"
                    ),
                ));
            }
        };
        let mut reader = SecretReader::new(secrets);
        match Account::resolve(vendor, section, &mut reader) {
            Ok(a) => {
                warnings.extend(
                    reader
                        .into_warnings()
                        .into_iter()
                        .map(|w| format!("[accounts.{name}]: {w}")),
                );
                accounts.insert(name, a);
            }
            Err(AccountError::Parse(e)) => {
                let mut e = toml_error(&e);
                e.message = account::explain(&e.message, vendor);
                return Err(e);
            }
            Err(AccountError::Resolve(m)) => {
                let e = FileError::at(path, text, Some(span), format!("[accounts.{name}]: {m}"));
                broken.insert(name, (vendor, e));
            }
        }
    }
    Ok((accounts, broken))
}

type ListenResult = Result<(Option<SocketAddr>, Option<Secret>), (std::ops::Range<usize>, String)>;

/// A listener's address, refused beyond loopback unless `public = true`, and its
/// path secret if any.
fn listener(
    key: &str,
    given: Option<Spanned<Listen>>,
    secrets: Secrets,
    warnings: &mut Vec<String>,
) -> ListenResult {
    let Some(given) = given else {
        return Ok((None, None));
    };
    let span = given.span();
    let fail = |m: String| (span.clone(), format!("{key}: {m}"));
    let table = match given.into_inner() {
        Listen::Address(address) => ListenTable {
            address,
            public: false,
            secret: None,
            secret_file: None,
        },
        Listen::Table(t) => t,
    };
    let ip = table.address.ip();
    if !ip.is_loopback() && !table.public {
        return Err(fail(format!(
            "{} is not a loopback address, so anyone who can reach this machine may connect: write {key} = {{ address = \"{}\", public = true }} if that is meant",
            table.address, table.address
        )));
    }
    let secret = match (table.secret, table.secret_file) {
        (None, None) => None,
        (Some(s), None) => Some(Secret::new(s.0.trim())),
        (None, Some(_)) if secrets == Secrets::Skip => Some(Secret::new("")),
        (None, Some(file)) => {
            let s = secret_file("secret", &file).map_err(fail)?;
            warnings.extend(world_readable(&format!("{key}.secret"), Path::new(&file)));
            Some(s)
        }
        (Some(_), Some(_)) => return Err(fail("give secret or secret_file, not both".into())),
    };
    Ok((Some(table.address), secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DaemonConfig, FileError> {
        DaemonConfig::parse(Path::new("/etc/dredge/dredge.toml"), text)
    }

    #[test]
    fn spec_example_accounts_load() {
        let c = parse(
            r#"
state_dir = "/var/lib/dredge"
[accounts.zyte]
vendor = "autoextract"
api_key = "k"
[accounts.wds]
vendor = "wds"
base_url = "http://wds.internal:2807"
tenant = "default"
"#,
        )
        .unwrap();
        assert_eq!(c.accounts.len(), 2);
        let Account::Wds(wds) = &c.accounts["wds"] else {
            panic!("a WDS account: {:?}", c.accounts["wds"]);
        };
        assert_eq!(wds.base_url, "http://wds.internal:2807");
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let e = parse("state_dir = \"/x\"\nsokcet = \"/y\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/dredge/dredge.toml:2:1: "), "{e}");
        assert!(e.contains("sokcet"), "{e}");
    }

    #[test]
    fn unknown_account_key_is_rejected() {
        let e = parse("[accounts.a]\nvendor = \"autoextract\"\napi_key = \"k\"\nrps = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":4:1:"), "{e}");
        assert!(e.contains("rps"), "{e}");
    }

    #[test]
    fn a_key_of_another_vendor_is_refused_naming_file_line_column_and_key() {
        for (vendor, key) in [
            ("autoextract\"\napi_key = \"k", "tenant = \"t\""),
            ("zyte\"\napi_key = \"k", "flavor = \"openapi\""),
            (
                "octoparse\"\nusername = \"u\"\npassword = \"p",
                "callback_allow = []",
            ),
            (
                "oxylabs\"\nusername = \"u\"\npassword = \"p",
                "scrape_via = \"get\"",
            ),
            ("wds\"\nbase_url = \"http://w", "api_key = \"k\""),
        ] {
            let text = format!("[accounts.a]\nvendor = \"{vendor}\"\n\n  {key}\n");
            let line = text.lines().count();
            let e = parse(&text).unwrap_err().to_string();
            let name = key.split(' ').next().unwrap();
            let v = vendor.split('"').next().unwrap();
            assert!(
                e.starts_with(&format!(
                    "/etc/dredge/dredge.toml:{line}:3: `{name}` is not a key of a {v} account: remove it"
                )),
                "{e}"
            );
            assert!(e.contains("takes `vendor`, `base_url`"), "{e}");
        }
    }

    #[test]
    fn an_account_written_inline_or_with_vendor_last_loads_as_its_vendor() {
        let c = parse(
            "accounts.z = { api_key = \"k\", vendor = \"zyte\" }\n[accounts.o]\nusername = \"u\"\npassword = \"p\"\nflavor = \"openapi\"\nvendor = \"octoparse\"\n",
        )
        .unwrap();
        let Account::Zyte(z) = &c.accounts["z"] else {
            panic!("a Zyte API account: {:?}", c.accounts["z"]);
        };
        assert_eq!(z.base_url, "https://api.zyte.com");
        assert_eq!(z.limits.timeout, std::time::Duration::from_secs(320));
        let Account::Octoparse(o) = &c.accounts["o"] else {
            panic!("an Octoparse account: {:?}", c.accounts["o"]);
        };
        assert_eq!(o.base_url, "https://openapi.octoparse.com");
        assert_eq!(c.accounts["o"].limits().max_concurrency, 4);
    }

    #[test]
    fn an_account_without_a_known_vendor_is_an_error_at_its_place() {
        let e = parse("[accounts.a]\napi_key = \"k\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":1:1:") && e.contains("missing field `vendor`"),
            "{e}"
        );
        let e = parse("[accounts.a]\nvendor = \"acme\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":2:10:") && e.contains("unknown variant `acme`"),
            "{e}"
        );
    }

    #[test]
    fn an_account_that_is_not_a_table_is_an_error_not_a_panic() {
        let e = parse("accounts.a = [\"zyte\"]\n").unwrap_err().to_string();
        assert!(e.contains(":1:14: accounts.a is not a table"), "{e}");
    }

    #[test]
    fn secret_from_file_is_trimmed_and_never_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, "s3cr3t-value\n").unwrap();
        let text = format!(
            "[accounts.a]\nvendor = \"autoextract\"\napi_key_file = {:?}\n",
            f.display().to_string()
        );
        let c = parse(&text).unwrap();
        let Account::Autoextract(a) = &c.accounts["a"] else {
            panic!("an AutoExtract account");
        };
        assert_eq!(a.api_key.expose(), "s3cr3t-value");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn missing_credentials_are_reported_with_what_to_add() {
        let e = parse("[accounts.o]\nvendor = \"octoparse\"\nusername = \"me\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password"), "{e}");
        assert!(e.contains(":1:1:"), "{e}");
    }

    #[test]
    fn no_debug_of_a_config_prints_a_secret() {
        let text = "[accounts.a]\nvendor = \"autoextract\"\napi_key = \"s3cr3t-inline\"\n";
        let raw: RawConfig = toml::from_str(text).unwrap();
        assert!(!format!("{raw:?}").contains("s3cr3t"), "{raw:?}");
        let c = parse(text).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_non_string_secret_is_refused_without_echoing_it() {
        let e = parse("[accounts.a]\nvendor = \"autoextract\"\napi_key = 73571234\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":3:11: api_key: a secret must be a string"),
            "{e}"
        );
        assert!(!e.contains("7357"), "{e}");
    }

    #[test]
    fn each_broken_account_is_kept_apart_and_the_others_load() {
        let text = "[accounts.good]\nvendor = \"autoextract\"\napi_key = \"k\"\n\n[accounts.bad]\nvendor = \"octoparse\"\nusername = \"u\"\npassword_env = \"DREDGE_TEST_UNSET_VARIABLE\"\n";
        let path = Path::new("/etc/dredge/dredge.toml");
        let c = DaemonConfig::parse_with(path, text, Secrets::Read).unwrap();
        assert!(c.accounts.contains_key("good"));
        let (vendor, e) = &c.broken_accounts["bad"];
        assert_eq!(*vendor, Vendor::Octoparse);
        assert!(
            e.to_string().contains(":5:1: [accounts.bad]: password_env"),
            "{e}"
        );
        assert!(
            DaemonConfig::parse(path, text).is_err(),
            "a strict load fails"
        );
        let skipped = DaemonConfig::parse_with(path, text, Secrets::Skip).unwrap();
        assert!(
            skipped.broken_accounts.is_empty(),
            "--no-secrets reads no env"
        );
    }

    #[test]
    fn a_secret_file_every_user_may_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, "k\n").unwrap();
        let text = format!(
            "[accounts.a]\nvendor = \"autoextract\"\napi_key_file = {:?}\n",
            f.display().to_string()
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = parse(&text).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("api_key_file"), "{:?}", c.warnings);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(parse(&text).unwrap().warnings.is_empty());
    }

    #[test]
    fn rates_and_durations_out_of_range_name_their_key() {
        for (value, expected) in [
            (
                "requests_per_second = 1e12",
                ":4:23: requests_per_second: 1000000000000 is out of range",
            ),
            (
                "requests_per_second = 1e-30",
                ":4:23: requests_per_second: 0.000000000000000000000000000001 is out of range",
            ),
            ("timeout = \"18446744073709551615s\"", ":4:11: timeout: "),
            (
                "max_concurrency = 0",
                ":4:19: max_concurrency: 0 is out of range (1..=1024)",
            ),
        ] {
            let text =
                format!("[accounts.a]\nvendor = \"autoextract\"\napi_key = \"k\"\n{value}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(expected), "{value}: {e}");
        }
    }

    #[test]
    fn socket_limits_default_and_take_values_in_range() {
        let c = parse("").unwrap();
        assert_eq!(c.socket_limits.max_connections, 256);
        assert_eq!(
            c.socket_limits.line_timeout,
            std::time::Duration::from_secs(10)
        );
        let c = parse("socket_max_connections = 1000\nsocket_line_timeout = \"30s\"\n").unwrap();
        assert_eq!(c.socket_limits.max_connections, 1000);
        assert_eq!(
            c.socket_limits.line_timeout,
            std::time::Duration::from_secs(30)
        );
        for (text, expected) in [
            (
                "socket_max_connections = 0",
                ":1:26: socket_max_connections: 0 is out of range (1..=16384)",
            ),
            (
                "socket_line_timeout = \"2h\"",
                ":1:23: socket_line_timeout: ",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn a_listener_beyond_loopback_needs_public_true() {
        let e = parse("callback_listen = \"0.0.0.0:8099\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":1:19: callback_listen: 0.0.0.0:8099 is not a loopback address"),
            "{e}"
        );
        let e = parse("metrics_listen = \"192.0.2.1:9464\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metrics_listen: "), "{e}");
        let c = parse("callback_listen = { address = \"0.0.0.0:8099\", public = true, secret = \"abc123\" }\nmetrics_listen = \"127.0.0.1:9464\"\n").unwrap();
        assert_eq!(c.callback_listen, Some("0.0.0.0:8099".parse().unwrap()));
        assert_eq!(
            c.callback_secret.as_ref().map(|s| s.expose()),
            Some("abc123")
        );
        assert!(!format!("{c:?}").contains("abc123"));
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
    }
}
