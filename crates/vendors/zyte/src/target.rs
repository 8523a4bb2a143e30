//! Which URLs can be sent, and the domain each one's item waits on.
//!
//! Zyte API refuses, unbilled, URLs it cannot take (no host, an IP address as host,
//! longer than 8,192 characters, not http/https); dredge refuses them when the run is
//! planned, so they are dead items at once rather than requests. A URL's scope is the
//! registrable domain of its host (public suffix list): `/limits/over-domain-limit`
//! names no domain and whether Zyte counts hosts or whole sites is not documented, so
//! the coarser scope is the one that is never early.

use dredge_core::domain::registrable_domain;

/// The longest URL Zyte API takes (`url`: `maxLength: 8192`).
pub const MAX_URL_CHARS: usize = 8192;

/// Why a URL is dead before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("malformed url: {0}")]
    Malformed(String),
    #[error("not an http:// or https:// URL (scheme {0})")]
    NotHttp(String),
    #[error("the host must be a domain name, not an IP address")]
    IpHost,
    #[error("URL longer than {MAX_URL_CHARS} characters")]
    TooLong,
}

/// The scope (registrable domain, lower-cased) of a URL Zyte API would take.
pub fn url_scope(url: &str) -> Result<String, UrlRefusal> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(UrlRefusal::TooLong);
    }
    let parsed = url::Url::parse(url).map_err(|e| UrlRefusal::Malformed(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRefusal::NotHttp(parsed.scheme().to_string()));
    }
    match parsed.host() {
        Some(url::Host::Domain(host)) if !host.is_empty() => Ok(registrable_domain(host)),
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Err(UrlRefusal::IpHost),
        _ => Err(UrlRefusal::Malformed("no host".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_registrable_domain_of_the_host() {
        assert_eq!(
            url_scope("https://Shop.Example.COM/p?x=1").unwrap(),
            "example.com"
        );
        assert_eq!(url_scope("https://a.b.shop.co.uk/").unwrap(), "shop.co.uk");
        assert_eq!(url_scope("https://me.github.io/x").unwrap(), "me.github.io");
    }

    #[test]
    fn urls_the_service_refuses_are_refused_before_sending() {
        assert_eq!(url_scope("http://10.0.0.1/a"), Err(UrlRefusal::IpHost));
        assert_eq!(url_scope("http://[::1]/a"), Err(UrlRefusal::IpHost));
        assert_eq!(
            url_scope("ftp://a.com/x"),
            Err(UrlRefusal::NotHttp("ftp".into()))
        );
        let relative = url_scope("a.com/x").unwrap_err();
        assert!(matches!(relative, UrlRefusal::Malformed(_)), "{relative}");
        let long = format!("https://a.com/{}", "x".repeat(MAX_URL_CHARS));
        assert_eq!(url_scope(&long), Err(UrlRefusal::TooLong));
    }
}
