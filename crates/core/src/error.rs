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

    /// From a TOML parse/deserialize error, keeping its location and its own words
    /// (which name the key), without the multi-line snippet the toml crate renders.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        Self::at(path, text, err.span(), err.message().trim().to_string())
    }
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
    fn display_is_path_line_col_message() {
        let e = FileError::at(Path::new("jobs/a.toml"), "x\ny", Some(2..3), "bad");
        assert_eq!(e.to_string(), "jobs/a.toml:2:1: bad");
    }
}
