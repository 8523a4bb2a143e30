//! Access and refresh tokens: issued for a user's password or a refresh token, expiring
//! after `expires_in`, and revoked by the "token invalid every N requests" fault.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::Dice;

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No `Authorization: bearer …` header, or a token never issued.
    Unknown,
    /// The token's `expires_in` has passed.
    Expired,
    /// The "token invalid every N requests" fault revoked it just now.
    Revoked,
}

#[derive(Debug)]
struct Access {
    user: String,
    expires_at: Instant,
}

/// The tokens issued so far.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    access: HashMap<String, Access>,
    refresh: HashMap<String, String>,
    /// Requests authorised so far (drives the "invalid every N" fault).
    authorised: u64,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub(super) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
}

impl Tokens {
    // docs/vendors/octoparse.md §"Tokens (legacy)", §"OpenAPI": access and refresh tokens,
    // `expires_in` 86399 by default.
    /// Issue a new access and refresh token for `user`.
    pub(super) fn issue(&mut self, user: &str, expires_in: u64, dice: &Dice) -> Issued {
        let access_token = token(dice);
        let refresh_token = token(dice);
        let expires_at = Instant::now() + Duration::from_secs(expires_in);
        let access = Access {
            user: user.to_string(),
            expires_at,
        };
        self.access.insert(access_token.clone(), access);
        self.refresh.insert(refresh_token.clone(), user.to_string());
        Issued {
            access_token,
            refresh_token,
        }
    }

    /// Use up a refresh token (they rotate), returning its user.
    pub(super) fn redeem_refresh(&mut self, refresh_token: &str) -> Option<String> {
        self.refresh.remove(refresh_token)
    }

    /// The user a bearer token belongs to, counting the request as authorised; every
    /// `invalid_every`-th authorised request revokes its token instead (0 = never).
    pub(super) fn authorise(
        &mut self,
        token: Option<&str>,
        invalid_every: u32,
    ) -> Result<String, Refusal> {
        let token = token.ok_or(Refusal::Unknown)?;
        let access = self.access.get(token).ok_or(Refusal::Unknown)?;
        if access.expires_at <= Instant::now() {
            return Err(Refusal::Expired);
        }
        let user = access.user.clone();
        self.authorised += 1;
        if invalid_every > 0 && self.authorised.is_multiple_of(u64::from(invalid_every)) {
            self.access.remove(token);
            return Err(Refusal::Revoked);
        }
        Ok(user)
    }

    /// Make every access token expired now (admin, for tests).
    pub(super) fn expire_all(&mut self) {
        let now = Instant::now();
        for access in self.access.values_mut() {
            access.expires_at = now;
        }
    }
}

fn token(dice: &Dice) -> String {
    format!("{:016x}{:016x}", dice.next_u64(), dice.next_u64())
}

/// Decode an `application/x-www-form-urlencoded` body into its pairs.
pub(super) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// Undo form encoding: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_url_decoded() {
        let pairs = parse_form(b"username=a%40b.com&password=p+w%26&grant_type=password");
        assert_eq!(pairs[0], ("username".into(), "a@b.com".into()));
        assert_eq!(pairs[1], ("password".into(), "p w&".into()));
    }

    #[test]
    fn every_nth_authorised_request_revokes_its_token() {
        let dice = Dice::new(1);
        let mut tokens = Tokens::default();
        let issued = tokens.issue("u", 60, &dice);
        let t = Some(issued.access_token.as_str());
        assert!(tokens.authorise(t, 3).is_ok());
        assert!(tokens.authorise(t, 3).is_ok());
        assert_eq!(tokens.authorise(t, 3), Err(Refusal::Revoked));
        assert_eq!(tokens.authorise(t, 3), Err(Refusal::Unknown));
    }
}
