//! Errors about files users write (job files, the daemon config), located by line and
//! column so the message can say exactly where to look.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a user-written file: `PATH:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    pub path: PathBuf,
    /// 1-based line and column; `None` when the problem is the file as a whole.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.position.unwrap_or((1, 1));
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            line,
            col,
            self.message
        )
    }
}

impl FileError {
    /// An error at byte `span` of `text` (the file's contents).
    pub fn at(
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        FileError {
            path: path.to_path_buf(),
            position: span.map(|s| line_col(text, s.start)),
            message: message.into(),
        }
    }

    /// An error about the whole file.
    pub fn whole(path: &Path, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            position: None,
            message: message.into(),
        }
    }

    /// From a TOML parse/deserialize error, keeping its location and its own words,
    /// without the multi-line snippet the toml crate renders. A bad value's message is
    /// prefixed with its key (`page_size: 0 is out of range (1..=1000)`): the toml crate
    /// names unknown and missing keys, but not the key of a value it rejects.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim();
        let message = match err.span().and_then(|s| key_before(text, s.start)) {
            Some(key) if !message.starts_with(&format!("{key}:")) => format!("{key}: {message}"),
            _ => message.to_string(),
        };
        Self::at(path, text, err.span(), message)
    }
}

/// The key whose value starts at byte `offset`: the nearest `key =` before it on the
/// same line (also inside inline tables, `{ name = "t", selector = "h1" }`).
pub fn key_before(text: &str, offset: usize) -> Option<String> {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let eq = before.rfind('=')?;
    // A `=` inside a string that precedes the value is not an assignment.
    if before[eq + 1..].contains(['"', '\'']) {
        return None;
    }
    let lhs = before[..eq].trim_end();
    let start = lhs
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let key = &lhs[start..];
    (!key.is_empty()).then(|| key.to_string())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('=').unwrap()), (1, 3));
        let second_eq = text.rfind('=').unwrap();
        assert_eq!(line_col(text, second_eq), (2, 4));
    }

    #[test]
    fn the_key_of_a_value_is_found_on_its_line() {
        let text = "a = 1\n[x]\npage_size = 0\nf = [{ name = \"t\", selector = \"h1\" }]\n";
        assert_eq!(
            key_before(text, text.find('0').unwrap()).as_deref(),
            Some("page_size")
        );
        let h1 = text.find("\"h1").unwrap();
        assert_eq!(key_before(text, h1).as_deref(), Some("selector"));
        assert_eq!(key_before(text, text.find("[x]").unwrap()), None);
        assert_eq!(key_before(text, text.find("page_size").unwrap()), None);
        // Found by the fuzzer: a multi-byte character before the key.
        let odd = "%\u{5b841}$\u{a5}k = 1";
        assert_eq!(key_before(odd, odd.len() - 1).as_deref(), Some("k"));
    }

    #[test]
    fn a_rejected_value_names_its_key_and_place() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            max_attempts: crate::job::values::Bounded<1, 1000>,
        }
        let text = "max_attempts = \"eight\"\n";
        let err = toml::from_str::<T>(text).unwrap_err();
        let e = FileError::from_toml(Path::new("j.toml"), text, &err).to_string();
        assert_eq!(
            e,
            "j.toml:1:16: max_attempts: invalid type: string \"eight\", expected an integer (1..=1000)"
        );
        let text = "max_attempts = 0\n";
        let err = toml::from_str::<T>(text).unwrap_err();
        let e = FileError::from_toml(Path::new("j.toml"), text, &err).to_string();
        assert_eq!(e, "j.toml:1:16: max_attempts: 0 is out of range (1..=1000)");
    }

    #[test]
    fn display_is_path_line_col_message() {
        let e = FileError::at(Path::new("jobs/a.toml"), "x\ny", Some(2..3), "bad");
        assert_eq!(e.to_string(), "jobs/a.toml:2:1: bad");
    }
}
