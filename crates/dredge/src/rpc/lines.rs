//! Newline-delimited reading with a bound: a line longer than the limit is reported
//! as `TooLong` and skipped to its newline in chunks, so a peer cannot make the
//! daemon buffer an unbounded line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line read from a peer, without its newline.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    Text(Vec<u8>),
    /// The line exceeded the limit; its bytes were discarded.
    TooLong,
}

/// Reads bounded lines from a buffered reader.
pub(super) struct LineReader<R> {
    inner: R,
    max_bytes: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R, max_bytes: usize) -> Self {
        LineReader { inner, max_bytes }
    }

    /// The next line, or `None` at the end of the stream. A last line without a
    /// newline is still returned (`printf '...' | socat` sends one).
    pub(super) async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(match (too_long, line.is_empty()) {
                    (true, _) => Some(Line::TooLong),
                    (false, true) => None,
                    (false, false) => Some(Line::Text(line)),
                });
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            if !too_long {
                if line.len() + part.len() > self.max_bytes {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(part);
                }
            }
            let used = newline.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                return Ok(Some(if too_long {
                    Line::TooLong
                } else {
                    Line::Text(line)
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max: usize) -> Vec<Line> {
        // A tiny buffer makes lines span many chunks.
        let reader = tokio::io::BufReader::with_capacity(3, input);
        let mut lines = LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.expect("in-memory read") {
            out.push(line);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn lines_split_at_newlines_across_chunks() {
        let got = read_all(b"abcdef\n\nxy\n", 100).await;
        assert_eq!(got, vec![text("abcdef"), text(""), text("xy")]);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_reported_and_the_next_one_is_intact() {
        let got = read_all(b"12345678\nabc\n", 5).await;
        assert_eq!(got, vec![Line::TooLong, text("abc")]);
    }

    #[tokio::test]
    async fn a_line_exactly_at_the_limit_is_accepted() {
        let got = read_all(b"12345\n", 5).await;
        assert_eq!(got, vec![text("12345")]);
    }

    #[tokio::test]
    async fn a_last_line_without_newline_is_returned() {
        let got = read_all(b"a\nlast", 100).await;
        assert_eq!(got, vec![text("a"), text("last")]);
    }

    #[tokio::test]
    async fn an_unterminated_oversized_tail_is_reported_once() {
        let got = read_all(b"ok\n0123456789", 5).await;
        assert_eq!(got, vec![text("ok"), Line::TooLong]);
    }
}
