//! The registrable domain of a host, by the public suffix list (compiled in with the
//! `psl` crate): the scope an item waits on when a vendor limits requests per domain
//! (AutoExtract's "domain occupied", Zyte API's domain limit). Vendors name the
//! registrable domain (`blog.scrapinghub.com` → `scrapinghub.com`), or do not say, so
//! ours is the coarse one: never narrower than theirs.

/// `blog.scrapinghub.com` → `scrapinghub.com`, `a.shop.co.uk` → `shop.co.uk`,
/// `me.github.io` → `me.github.io`, lower-cased and without a trailing dot. IP
/// addresses, single labels and hosts that are themselves a public suffix stay as they
/// are.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_collapse_into_the_registrable_domain() {
        for (host, domain) in [
            ("blog.scrapinghub.com", "scrapinghub.com"),
            ("a.b.Example.COM", "example.com"),
            ("Shop.Example.COM.", "example.com"),
            ("www.shop.co.uk", "shop.co.uk"),
            ("127.0.0.1", "127.0.0.1"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(registrable_domain(host), domain, "{host}");
        }
    }

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        // Each of these was wrong with the old hand-kept list of 18 suffixes.
        for (host, domain) in [
            ("me.github.io", "me.github.io"),
            ("x.me.github.io", "me.github.io"),
            ("news.blogspot.com", "news.blogspot.com"),
            ("www.shop.com.sg", "shop.com.sg"),
            ("a.b.shop.co.uk", "shop.co.uk"),
            ("github.io", "github.io"),
        ] {
            assert_eq!(registrable_domain(host), domain, "{host}");
        }
    }
}
