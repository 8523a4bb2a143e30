//! Percent-encoding for path segments and query strings. Selectors hold `/ [ ] @ = &`,
//! quotes, `+`, `#` and spaces (docs/vendors/wds.md §"Selectors": the official client
//! reportedly does not encode them and breaks on XPath), so everything but RFC 3986 unreserved characters is encoded —
//! a space as `%20`, never `+`, so no server can read it two ways.

use std::fmt::Write;

/// `text` with every byte outside `A-Z a-z 0-9 - . _ ~` written as `%XX`.
pub(crate) fn component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `k1=v1&k2=v2`, each key and value encoded.
pub(crate) fn query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", component(k), component(v)))
        .collect::<Vec<_>>()
        .join("&")
}
