//! Small helpers shared by the simulators: HTTP Basic parsing, seeded randomness and
//! fault dice, stable hashing for "same input, same generated data".
//!
//! Kept deliberately small and stable because every simulator leans on it.

use std::sync::{Arc, Mutex};

use base64::Engine;
use http::HeaderMap;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The `(user, password)` of an `Authorization: Basic …` header, if well formed.
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((text.as_str(), ""));
    Some((user.to_string(), password.to_string()))
}

/// The token of an `Authorization: <scheme> <token>` header whose scheme matches
/// `scheme` case-insensitively (`bearer`, `Bearer`, `BEARER` are all accepted).
pub(crate) fn auth_token<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (given, token) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A stable 64-bit FNV-1a hash of `seed` and `text`: unlike std's `DefaultHasher`, it
/// never changes between Rust releases, so generated data stays the same.
pub(crate) fn stable_hash(seed: u64, text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A generator that depends only on `seed` and `key` (e.g. a URL or a task id).
pub(crate) fn rng_for(seed: u64, key: &str) -> StdRng {
    StdRng::seed_from_u64(stable_hash(seed, key))
}

/// Shared, seeded dice for fault injection: the same seed and the same sequence of
/// requests roll the same faults.
#[derive(Debug, Clone)]
pub(crate) struct Dice {
    rng: Arc<Mutex<StdRng>>,
}

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Dice {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// True with probability `rate` (0 never rolls, 1 or more always fires).
    pub(crate) fn chance(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        self.with(|rng| rng.random::<f64>() < rate)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.with(|rng| rng.random_range(0..n))
    }

    /// A random 64-bit value (ids, tokens).
    pub(crate) fn next_u64(&self) -> u64 {
        self.with(|rng| rng.random())
    }

    pub(crate) fn shuffle<T>(&self, items: &mut [T]) {
        self.with(|rng| items.shuffle(rng));
    }

    fn with<R>(&self, f: impl FnOnce(&mut StdRng) -> R) -> R {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_reads_key_with_empty_password() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("key:");
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_auth(&headers),
            Some(("key".to_string(), String::new()))
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, "BEARER abc".parse().unwrap());
        assert_eq!(auth_token(&headers, "bearer"), Some("abc"));
    }

    #[test]
    fn stable_hash_depends_on_seed_and_text() {
        assert_eq!(stable_hash(1, "a"), stable_hash(1, "a"));
        assert_ne!(stable_hash(1, "a"), stable_hash(2, "a"));
        assert_ne!(stable_hash(1, "a"), stable_hash(1, "b"));
    }
}
