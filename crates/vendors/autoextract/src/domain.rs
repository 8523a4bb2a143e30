//! Which target domain a URL belongs to, as AutoExtract counts it for "domain occupied".
//!
//! Items are planned per domain and carry it as their scope, so a "domain X is occupied"
//! answer can defer every queued item of X. The service names the registrable domain
//! (`blog.scrapinghub.com` → `scrapinghub.com`), so ours must be at least as coarse.

/// The registrable domain of a host by the public suffix list (compiled in with the
/// `psl` crate): `blog.scrapinghub.com` → `scrapinghub.com`, `a.shop.co.uk` →
/// `shop.co.uk`, `me.github.io` → `me.github.io`. IP addresses, single labels and
/// hosts that are themselves a public suffix stay as they are.
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') || !host.contains('.') {
        return host;
    }
    match psl::domain_str(&host) {
        Some(domain) => domain.to_string(),
        None => host,
    }
}

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
    fn subdomains_collapse_into_the_registrable_domain() {
        assert_eq!(
            registrable_domain("blog.scrapinghub.com"),
            "scrapinghub.com"
        );
        assert_eq!(registrable_domain("a.b.Example.COM"), "example.com");
        assert_eq!(registrable_domain("www.shop.co.uk"), "shop.co.uk");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
        assert_eq!(registrable_domain("localhost"), "localhost");
    }

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        // Each of these was wrong with the old hand-kept list of 18 suffixes.
        assert_eq!(registrable_domain("me.github.io"), "me.github.io");
        assert_eq!(registrable_domain("x.me.github.io"), "me.github.io");
        assert_eq!(registrable_domain("news.blogspot.com"), "news.blogspot.com");
        assert_eq!(registrable_domain("www.shop.com.sg"), "shop.com.sg");
        assert_eq!(registrable_domain("a.b.shop.co.uk"), "shop.co.uk");
        assert_eq!(registrable_domain("github.io"), "github.io");
    }

    #[test]
    fn url_domain_refuses_what_the_service_refuses() {
        assert_eq!(
            url_domain("https://blog.example.com/x?y=1").as_deref(),
            Ok("example.com")
        );
        assert!(matches!(
            url_domain("not a url"),
            Err(UrlRefusal::Malformed(_))
        ));
        assert!(matches!(
            url_domain("ftp://example.com/file"),
            Err(UrlRefusal::NotHttp(_))
        ));
    }
}
