//! The shipped examples (`config/dredge.toml`, `config/jobs.d/*.toml`) are
//! what operators copy: `dredge validate` must accept them as they are, and must reject
//! a broken copy with `PATH:LINE:COL`.
//!
//! The example config reads its secrets the way a systemd install does
//! (`*_file` under /run/credentials/dredge.service/, `*_env`), and `validate` reads
//! every secret it names. So the test gives each one a value: credential files are
//! written to a temporary directory and the config is copied with that directory in
//! place of /run/credentials/dredge.service/ (nothing else changes); `*_env`
//! variables are set on the child process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CREDENTIALS_DIR: &str = "/run/credentials/dredge.service/";
const VENDORS: [&str; 5] = ["octoparse", "oxylabs", "wds", "autoextract", "zyte"];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn example_config_text() -> String {
    std::fs::read_to_string(examples_dir().join("dredge.toml")).expect("config/dredge.toml")
}

/// `config/jobs.d/*.toml`, sorted, as a shell glob would list them.
fn example_jobs() -> Vec<PathBuf> {
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(examples_dir().join("jobs.d"))
        .expect("config/jobs.d")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    jobs.sort();
    jobs
}

/// The part of each line before a `#` comment (the examples quote no `#`).
fn active_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| l.split('#').next().unwrap_or(""))
}

/// Values of `KEY = "VALUE"` lines whose key ends with `suffix`, comments ignored.
fn values_of_keys_ending(text: &str, suffix: &str) -> Vec<String> {
    active_lines(text)
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim().ends_with(suffix))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .collect()
}

/// A copy of the example config whose credential files exist, plus the `*_env`
/// variables it names; the directory lives as long as the returned guard.
struct ConfigWithSecrets {
    _dir: tempfile::TempDir,
    config: PathBuf,
    env: Vec<(String, String)>,
}

fn config_with_secrets(text: &str) -> ConfigWithSecrets {
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = format!("{}/", dir.path().display());
    for file in values_of_keys_ending(text, "_file") {
        let name = file
            .strip_prefix(CREDENTIALS_DIR)
            .unwrap_or_else(|| panic!("example secret {file} is not under {CREDENTIALS_DIR}"));
        let file = dir.path().join(name);
        std::fs::write(&file, "example-secret\n").expect("credential file");
        // As systemd's credentials are: readable by the service only (a secret file
        // others may read is warned about).
        let owner_only = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&file, owner_only).expect("credential mode");
    }
    let config = dir.path().join("dredge.toml");
    std::fs::write(&config, text.replace(CREDENTIALS_DIR, &creds)).expect("config copy");
    let env = values_of_keys_ending(text, "_env")
        .into_iter()
        .map(|var| (var, "example-secret".to_string()))
        .collect();
    ConfigWithSecrets {
        _dir: dir,
        config,
        env,
    }
}

fn validate(setup: &ConfigWithSecrets, jobs: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dredge"))
        .arg("validate")
        .arg("--config")
        .arg(&setup.config)
        .args(jobs)
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run dredge validate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn example_config_and_every_example_job_pass_validate() {
    let setup = config_with_secrets(&example_config_text());
    let jobs = example_jobs();
    let out = validate(&setup, &jobs);
    assert!(
        out.status.success(),
        "dredge validate rejected the examples:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "", "no error lines expected");
    assert!(text(&out.stderr).contains(&format!("{} job file(s) valid", jobs.len())));
}

#[test]
fn every_vendor_has_an_example_job_and_every_account_kind_an_example_account() {
    let config = example_config_text();
    let job_texts: Vec<String> = example_jobs()
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("job file"))
        .collect();
    for vendor in VENDORS {
        let line = format!("vendor = \"{vendor}\"");
        let has = |t: &String| active_lines(t).any(|l| l.trim() == line);
        assert!(job_texts.iter().any(has), "no example job for {vendor}");
        assert!(has(&config), "no example account for {vendor}");
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("needle in text");
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |nl| nl + 1) + 1;
    (line, col)
}

#[test]
fn a_broken_copy_of_an_example_job_is_rejected_with_path_line_and_column() {
    let setup = config_with_secrets(&example_config_text());
    let original = std::fs::read_to_string(examples_dir().join("jobs.d/octoparse-weather.toml"))
        .expect("octoparse example");
    // Out of range: page_size is 1..=1000.
    let broken = original.replacen("page_size = 1000", "page_size = 5000", 1);
    assert_ne!(
        broken, original,
        "the example no longer sets page_size = 1000"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("octoparse-weather.toml");
    std::fs::write(&path, &broken).expect("broken copy");

    let out = validate(&setup, std::slice::from_ref(&path));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let (line, col) = line_col(&broken, "5000");
    let expected = format!("{}:{line}:{col}: ", path.display());
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&expected),
        "want {expected:?}, got {stdout:?}"
    );
    assert!(
        stdout.contains("5000"),
        "the message names the bad value: {stdout}"
    );
}

#[test]
fn a_broken_copy_of_the_example_config_is_rejected_with_path_line_and_column() {
    let original = example_config_text();
    let broken = original.replacen("socket = ", "sokcet = ", 1);
    assert_ne!(broken, original, "the example no longer sets socket");
    let setup = config_with_secrets(&broken);

    let out = validate(&setup, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let (line, col) = line_col(&broken, "sokcet");
    let expected = format!("{}:{line}:{col}: ", setup.config.display());
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&expected),
        "want {expected:?}, got {stdout:?}"
    );
    assert!(
        stdout.contains("sokcet"),
        "the message names the unknown key: {stdout}"
    );
}
