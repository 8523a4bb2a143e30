//! The little URL handling WDS needs: split an absolute URL, resolve a link found on a
//! page against the page's URL.

/// `("https://shop.test", "/catalog/1.html")` for an absolute http(s) URL; the query and
/// fragment are dropped from the path.
pub(crate) fn split(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_end == 0 {
        return None;
    }
    let origin_len = scheme.len() + 3 + authority_end;
    let after = &url[origin_len..];
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    Some((&url[..origin_len], &after[..path_end]))
}

/// The host of an absolute URL (no port), lower-cased.
pub(crate) fn host(url: &str) -> String {
    let origin = split(url).map_or(url, |(origin, _)| origin);
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or(host).to_ascii_lowercase()
}

/// `href` made absolute against the page at `base`, without its fragment. `None` for
/// links a crawler does not follow (`javascript:`, `mailto:`, bare fragments).
pub(crate) fn resolve(base: &str, href: &str) -> Option<String> {
    let href = href.trim();
    let href = href.split('#').next().unwrap_or(href);
    if href.is_empty() {
        return None;
    }
    if href.contains("://") {
        return split(href).map(|_| href.to_string());
    }
    if href.contains(':') && !href.starts_with('/') && !href.starts_with('.') {
        return None;
    }
    let (origin, path) = split(base)?;
    if let Some(rest) = href.strip_prefix("//") {
        let scheme = origin.split("://").next().unwrap_or("https");
        return Some(format!("{scheme}://{rest}"));
    }
    if href.starts_with('/') {
        return Some(format!("{origin}{href}"));
    }
    let directory = path.rsplit_once('/').map_or("", |(d, _)| d);
    Some(format!("{origin}{directory}/{href}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origin_and_path() {
        assert_eq!(
            split("https://a.test/x/y.html?q=1"),
            Some(("https://a.test", "/x/y.html"))
        );
        assert_eq!(split("http://a.test"), Some(("http://a.test", "")));
        assert_eq!(split("ftp://a.test/"), None);
    }

    #[test]
    fn resolves_links_against_the_page() {
        let base = "https://a.test/catalog/1.html";
        assert_eq!(
            resolve(base, "/product/2.html").as_deref(),
            Some("https://a.test/product/2.html")
        );
        assert_eq!(
            resolve(base, "2.html").as_deref(),
            Some("https://a.test/catalog/2.html")
        );
        assert_eq!(resolve(base, "javascript:void(0)"), None);
        assert_eq!(resolve(base, "#top"), None);
        assert_eq!(host("https://u@A.test:8080/x"), "a.test");
    }
}
