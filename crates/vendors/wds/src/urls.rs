//! The per-run identity of a page: its URL normalised, so `HTTP://Shop.test:80/a#top`
//! and `http://shop.test/a` are one page (the dedupe key of its item).

/// Scheme and host lower-cased, default port and fragment dropped, path dot-segments
/// resolved (what `url` does when parsing); the query is kept, it names a page. A URL
/// that does not parse is kept as given, trimmed.
pub fn normalise(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.trim().to_string(),
    }
}
