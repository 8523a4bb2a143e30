//! Plain-text tables and times for humans: aligned columns, relative times.

use chrono::{DateTime, Utc};

/// Columns padded to their widest cell, two spaces apart; no trailing spaces.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let cell = one_line(cell);
            line.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An RFC 3339 time relative to `now` ("5m ago", "in 2h"); text that does not
/// parse is shown as is, a missing time as "-".
pub(super) fn when(time: Option<&str>, now: DateTime<Utc>) -> String {
    let Some(text) = time else {
        return "-".into();
    };
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let secs = (t.with_timezone(&Utc) - now).num_seconds();
            match secs {
                0 => "now".into(),
                s if s > 0 => format!("in {}", span(s.unsigned_abs())),
                s => format!("{} ago", span(s.unsigned_abs())),
            }
        }
        Err(_) => text.to_string(),
    }
}

/// A duration in its two largest units: "45s", "3m12s", "2h5m", "4d3h".
pub(super) fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h{m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

/// One line of text, for cells: newlines and tabs would break the columns, and
/// control characters are dropped (see [`printable`]).
pub(super) fn one_line(text: &str) -> String {
    printable(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text from vendors and files made safe for a terminal: control characters (an ESC
/// starts a sequence that can rewrite the screen or the window title) and bidi
/// overrides (which reorder what is shown) become spaces; newlines are kept.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if (c.is_control() && c != '\n') || bidi {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_vendors_never_reach_the_terminal() {
        let hostile = "bad\x1b]0;owned\x07 title\x1b[2J\r\u{202E}gnp.exe\u{9b}31m";
        let shown = one_line(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(!shown.contains('\u{202E}'), "{shown:?}");
        assert!(
            shown.starts_with("bad ]0;owned title [2J gnp.exe"),
            "{shown:?}"
        );
        let cells = table(&["A"], &[vec![hostile.to_string()]]);
        assert!(!cells.contains('\x1b'), "{cells:?}");
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let out = table(
            &["A", "LONGER"],
            &[
                vec!["xxxxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(out, "A      LONGER\nxxxxx  1\ny      22\n");
    }

    #[test]
    fn times_are_shown_relative_to_now() {
        assert_eq!(when(Some("2026-11-23T11:55:00Z"), now()), "5m ago");
        assert_eq!(when(Some("2026-11-23T14:30:00+00:00"), now()), "in 2h30m");
        assert_eq!(when(Some("2026-11-23T12:00:00Z"), now()), "now");
        assert_eq!(when(None, now()), "-");
        assert_eq!(when(Some("soon"), now()), "soon");
    }

    #[test]
    fn spans_use_their_two_largest_units() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(192), "3m12s");
        assert_eq!(span(7200), "2h");
        assert_eq!(span(7500), "2h5m");
        assert_eq!(span(4 * 86_400 + 3 * 3600 + 59), "4d3h");
    }

    #[test]
    fn cells_are_flattened_to_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
