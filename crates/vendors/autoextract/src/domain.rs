//! Which target domain a URL belongs to, as AutoExtract counts it for "domain occupied".
//!
//! Items are planned per domain and carry it as their scope, so a "domain X is occupied"
//! answer can defer every queued item of X. The service names the registrable domain
//! (`blog.scrapinghub.com` → `scrapinghub.com`), so ours is core's
//! [`registrable_domain`], at least as coarse.

use dredge_core::domain::registrable_domain;

/// Why a URL is refused before it is sent (the service would refuse it too, unbilled).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("malformed url: {0}")]
    Malformed(String),
    #[error("non-HTTP schemas are not allowed: {0}")]
    NotHttp(String),
}

/// The registrable domain of an absolute http(s) URL.
pub fn url_domain(url: &str) -> Result<String, UrlRefusal> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| UrlRefusal::Malformed(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRefusal::NotHttp(parsed.scheme().to_string()));
    }
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(registrable_domain(host)),
        _ => Err(UrlRefusal::Malformed("no host".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_domain_refuses_what_the_service_refuses() {
        assert_eq!(
            url_domain("https://blog.example.com/x?y=1").as_deref(),
            Ok("example.com")
        );
        assert_eq!(
            url_domain("http://127.0.0.1:9/a").as_deref(),
            Ok("127.0.0.1")
        );
        let malformed = url_domain("not a url").unwrap_err();
        assert!(matches!(malformed, UrlRefusal::Malformed(_)), "{malformed}");
        let ftp = url_domain("ftp://example.com/file").unwrap_err();
        assert_eq!(ftp, UrlRefusal::NotHttp("ftp".into()));
    }
}
