//! Credentials of an account: given inline, by environment variable or by file
//! (systemd `LoadCredential=`), at most one of the three, and read once when the
//! account resolves. Secrets never reach an error or a warning.

use std::path::Path;

use crate::files::{self, Links, MAX_SMALL_FILE_BYTES};
use crate::secret::{Secret, SecretText};

/// Whether `*_env` and `*_file` secrets are read while resolving an account. `Skip`
/// checks everything else, for `dredge validate --no-secrets` on a machine that lacks
/// the service's credentials (the secret is then an empty placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Read,
    Skip,
}

/// One credential as written: `KEY`, `KEY_env` and `KEY_file` (at most one set).
#[derive(Debug, Clone, Default)]
pub struct Credential {
    pub inline: Option<SecretText>,
    pub env: Option<String>,
    pub file: Option<String>,
}

impl Credential {
    pub fn new(inline: Option<SecretText>, env: Option<String>, file: Option<String>) -> Self {
        Credential { inline, env, file }
    }
}

/// A username with its password: how Octoparse and Oxylabs accounts log in.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub username: String,
    pub password: Secret,
}

/// Reads an account's credentials, and collects warnings about what is legal but
/// unsafe (a secret file that every user may read).
#[derive(Debug)]
pub struct SecretReader {
    secrets: Secrets,
    warnings: Vec<String>,
}

impl SecretReader {
    pub fn new(secrets: Secrets) -> Self {
        SecretReader {
            secrets,
            warnings: Vec::new(),
        }
    }

    /// The warnings so far, each naming its key.
    pub fn into_warnings(self) -> Vec<String> {
        self.warnings
    }

    /// The credential `key` if given. Surrounding whitespace and the trailing newline
    /// are trimmed.
    pub fn optional(&mut self, key: &str, given: Credential) -> Result<Option<Secret>, String> {
        match (given.inline, given.env, given.file) {
            (None, None, None) => Ok(None),
            (Some(v), None, None) => Ok(Some(Secret::new(v.0.trim()))),
            (None, Some(_), None) | (None, None, Some(_)) if self.secrets == Secrets::Skip => {
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
                self.warnings.extend(world_readable(key, Path::new(&path)));
                Ok(Some(value))
            }
            _ => Err(format!("give only one of {key}, {key}_env and {key}_file")),
        }
    }

    /// The credential `key`, which the account needs: `missing` says so when it is
    /// absent (e.g. "needs an API key (api_key, api_key_env or api_key_file)").
    pub fn required(
        &mut self,
        key: &str,
        given: Credential,
        missing: &str,
    ) -> Result<Secret, String> {
        self.optional(key, given)?
            .ok_or_else(|| missing.to_string())
    }

    /// A `username` with its `password` (inline, `password_env` or `password_file`),
    /// both required: the login of Octoparse and Oxylabs accounts.
    pub fn login(
        &mut self,
        username: Option<String>,
        password: Credential,
    ) -> Result<Login, String> {
        let password = self.optional("password", password)?;
        match (username, password) {
            (Some(username), Some(password)) => Ok(Login { username, password }),
            _ => Err(
                "needs username and a password (password, password_env or password_file)".into(),
            ),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(v: &str) -> Credential {
        Credential::new(Some(SecretText(v.into())), None, None)
    }

    #[test]
    fn an_inline_secret_is_trimmed_and_a_missing_one_says_what_to_add() {
        let mut r = SecretReader::new(Secrets::Read);
        let s = r
            .required("api_key", inline(" k \n"), "needs an API key")
            .unwrap();
        assert_eq!(s.expose(), "k");
        let e = r
            .required("api_key", Credential::default(), "needs an API key")
            .unwrap_err();
        assert_eq!(e, "needs an API key");
    }

    #[test]
    fn two_ways_of_giving_one_secret_are_refused_without_the_secret() {
        let mut r = SecretReader::new(Secrets::Read);
        let given = Credential::new(Some(SecretText("s3cr3t".into())), Some("V".into()), None);
        let e = r.optional("token", given).unwrap_err();
        assert_eq!(e, "give only one of token, token_env and token_file");
    }

    #[test]
    fn a_login_needs_both_a_username_and_a_password() {
        let mut reader = SecretReader::new(Secrets::Read);
        let login = reader.login(Some("u".into()), inline("p")).unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.expose()),
            ("u", "p")
        );
        for (user, password) in [
            (Some("u".into()), Credential::default()),
            (None, inline("p")),
        ] {
            let e = reader.login(user, password).unwrap_err();
            assert!(
                e.contains(
                    "needs username and a password (password, password_env or password_file)"
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn skipping_secrets_reads_no_environment() {
        let given = Credential::new(None, Some("DREDGE_CORE_TEST_UNSET".into()), None);
        let mut read = SecretReader::new(Secrets::Read);
        let e = read.optional("password", given.clone()).unwrap_err();
        assert!(e.starts_with("password_env: "), "{e}");
        let mut skip = SecretReader::new(Secrets::Skip);
        assert_eq!(
            skip.optional("password", given).unwrap().unwrap().expose(),
            ""
        );
    }
}
