//! Query-level errors: the `error` text of one result, classified on its own so one bad
//! query never fails the others of its batch.
//!
//! The matching copies the official client
//! (docs/vendors/autoextract.md §"Query-level errors", §"Domain occupied"): "domain occupied" is found
//! case-insensitively anywhere in the message, and the retriable errors are
//! case-insensitive substrings. The issue pins a few errors as permanent even though
//! they look transient (`Proxy error: nxdomain`): those are checked first.

use std::time::Duration;

/// What the official client waits when the occupied message's seconds do not parse.
pub const OCCUPIED_FALLBACK: Duration = Duration::from_secs(300);

/// The longest occupied wait we honour; a garbled huge number must not park a domain
/// for days.
const OCCUPIED_CAP: Duration = Duration::from_secs(3600);

/// What one query's error means.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// "Domain X is occupied, please retry in N seconds": wait, unbilled, not an attempt.
    Occupied { domain: String, delay: Duration },
    /// Transient on the vendor's side: a counted retry.
    Retriable,
    /// Will not get better: the query is dead with the message.
    Permanent,
}

/// Errors that are final whatever else they contain (checked before the retriable list).
const PERMANENT: &[&str] = &[
    // "Redirects are not supported" (reference table); the official client retries it,
    // but the same URL redirects the same way and every retry is billed.
    "downloader error: no response (network301)",
    "malformed url",
    "non-http schemas are not allowed",
    "url cannot be longer than",
    "extraction not permitted for this url",
    "downloader error: http404",
    "proxy error: domain_forbidden",
    "proxy error: nxdomain",
];

/// The official client's retriable query errors (docs/vendors/autoextract.md
/// §"Query-level errors"), lower case, without
/// `Proxy error: nxdomain`, which the issue pins as permanent.
const RETRIABLE: &[&str] = &[
    "query timed out",
    "downloader error: no response",
    "downloader error: http50",
    "downloader error: 50",
    "downloader error: globaltimeouterror",
    "downloader error: connectionresetbypeer",
    "proxy error: banned",
    "proxy error: internal_error",
    "proxy error: timeout",
    "proxy error: ssl_tunnel_error",
    "proxy error: msgtimeout",
    "proxy error: econnrefused",
    "proxy error: connect_timeout",
];

/// Classify one query's `error` text.
pub(crate) fn classify(message: &str) -> QueryError {
    if let Some((domain, delay)) = parse_occupied(message) {
        return QueryError::Occupied { domain, delay };
    }
    let lower = message.to_ascii_lowercase();
    if PERMANENT.iter().any(|p| lower.contains(p)) {
        QueryError::Permanent
    } else if RETRIABLE.iter().any(|p| lower.contains(p)) {
        QueryError::Retriable
    } else {
        // The official client retries nothing it does not know; neither do we.
        QueryError::Permanent
    }
}

const OCCUPIED_HEAD: &str = "domain ";
const OCCUPIED_MID: &str = " is occupied, please retry in ";
const OCCUPIED_TAIL: &str = " seconds";

/// The official client's `.*domain (.+) is occupied, please retry in (.+) seconds.*`,
/// case-insensitive: the domain (lower-cased) and the wait, 300 s when the seconds do
/// not parse as a number. Greedy like the regex: the last possible split wins.
pub fn parse_occupied(message: &str) -> Option<(String, Duration)> {
    // ASCII lower-casing keeps byte offsets, so they index the original text too.
    let lower = message.to_ascii_lowercase();
    let mid = lower.rfind(OCCUPIED_MID)?;
    let head = lower[..mid]
        .rfind(OCCUPIED_HEAD)
        .filter(|h| h + OCCUPIED_HEAD.len() < mid)?;
    let seconds_from = mid + OCCUPIED_MID.len();
    let tail = lower[seconds_from..]
        .rfind(OCCUPIED_TAIL)
        .map(|t| seconds_from + t)
        .filter(|t| *t > seconds_from)?;
    let domain = lower[head + OCCUPIED_HEAD.len()..mid].trim().to_string();
    let delay = parse_seconds(&message[seconds_from..tail]).unwrap_or(OCCUPIED_FALLBACK);
    Some((domain, delay))
}

fn parse_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    // Clamp before converting: `from_secs_f64` panics on values too large for a Duration.
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(OCCUPIED_CAP.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occupied(message: &str) -> Option<(String, Duration)> {
        parse_occupied(message)
    }

    #[test]
    fn occupied_message_test_vectors_from_the_vendor_notes() {
        assert_eq!(
            occupied("Domain example.com is occupied, please retry in 23.5 seconds"),
            Some(("example.com".into(), Duration::from_millis(23_500)))
        );
        assert_eq!(
            occupied("domain example.net is occupied, please retry in 23 seconds"),
            Some(("example.net".into(), Duration::from_secs(23)))
        );
        assert_eq!(
            occupied("Domain example.com is occupied, please retry in asd seconds"),
            Some(("example.com".into(), OCCUPIED_FALLBACK))
        );
        assert_eq!(
            occupied("Domain example.com is occupied, please retry in  seconds"),
            None,
            "empty seconds do not match at all"
        );
    }

    #[test]
    fn occupied_matches_anywhere_and_in_any_case() {
        assert_eq!(
            occupied("Error: DOMAIN Shop.Example.org IS OCCUPIED, PLEASE RETRY IN 2 SECONDS."),
            Some(("shop.example.org".into(), Duration::from_secs(2)))
        );
        assert_eq!(
            classify("xx domain a.com is occupied, please retry in 1.5 seconds yy"),
            QueryError::Occupied {
                domain: "a.com".into(),
                delay: Duration::from_millis(1500)
            }
        );
    }

    #[test]
    fn absurd_occupied_waits_are_capped_and_never_panic() {
        let (_, d) = occupied("domain a.com is occupied, please retry in 1e30 seconds").unwrap();
        assert_eq!(d, OCCUPIED_CAP);
        let (_, d) = occupied("domain a.com is occupied, please retry in -5 seconds").unwrap();
        assert_eq!(d, OCCUPIED_FALLBACK);
        let (_, d) = occupied("domain a.com is occupied, please retry in NaN seconds").unwrap();
        assert_eq!(d, OCCUPIED_FALLBACK);
    }

    #[test]
    fn the_official_retriable_list_is_retried() {
        for message in [
            "query timed out",
            "Downloader error: No response (network5)",
            "Downloader error: http500",
            "Downloader error: http503",
            "Downloader error: GlobalTimeoutError",
            "downloader error: connectionresetbypeer",
            "Proxy error: banned",
            "Proxy error: internal_error",
            "Proxy error: ssl_tunnel_error",
            "Proxy error: timeout",
            "Proxy error: msgtimeout",
            "Proxy error: econnrefused",
            "Proxy error: connect_timeout",
        ] {
            assert_eq!(classify(message), QueryError::Retriable, "{message}");
        }
    }

    #[test]
    fn permanent_errors_are_dead_even_when_they_look_like_proxy_errors() {
        for message in [
            "malformed url",
            "non-HTTP schemas are not allowed",
            "Downloader error: http404",
            "Proxy error: domain_forbidden",
            "Proxy error: nxdomain",
            "URL cannot be longer than 4096 characters",
            "Extraction not permitted for this URL",
            // "Redirects are not supported": the same every time, and billed.
            "Downloader error: No response (network301)",
            "downloader error: no response (NETWORK301)",
            "Downloader error: No visible elements",
            "something nobody documented",
        ] {
            assert_eq!(classify(message), QueryError::Permanent, "{message}");
        }
    }
}
