//! A small, pure Server-Sent Events parser (WHATWG "event stream
//! interpretation"), fed with byte chunks split anywhere.
//!
//! Handles LF, CRLF and lone CR line ends (also a CRLF split across two
//! chunks), multi-line `data:`, comment/keep-alive lines starting with `:`,
//! a leading BOM, and UTF-8 characters split across chunks. It knows nothing
//! of `[DONE]`: that is an ordinary data payload the caller checks for.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when given (Anthropic names its events; OpenAI does not).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when given.
    pub id: Option<String>,
}

/// Incremental parser state. Feed chunks with [`SseParser::feed`]; call
/// [`SseParser::finish`] at the end of the body.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: skip a `\n` starting the next one.
    after_cr: bool,
    /// Past the first line (BOM check done).
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes`, returning the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    /// Ends the stream: a last line without its line end is processed, and
    /// an event missing only its closing blank line is dispatched (lenient;
    /// many servers omit it).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.end_line(&mut out);
        out.pop()
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&raw).into_owned();
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned();
            }
        }
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                    id: self.id.clone(),
                });
            } else {
                self.event = None;
            }
            self.has_data = false;
            self.data.clear();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c));
        }
        out.extend(p.finish());
        out
    }

    fn data(d: &str) -> SseEvent {
        SseEvent { data: d.into(), ..Default::default() }
    }

    #[test]
    fn lf_crlf_and_cr_line_ends() {
        let lf = parse_all(&[b"data: a\n\ndata: b\n\n"]);
        let crlf = parse_all(&[b"data: a\r\n\r\ndata: b\r\n\r\n"]);
        let cr = parse_all(&[b"data: a\r\rdata: b\r\r"]);
        assert_eq!(lf, vec![data("a"), data("b")]);
        assert_eq!(crlf, lf);
        assert_eq!(cr, lf);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_end() {
        let ev = parse_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(ev, vec![data("a"), data("b")]);
    }

    #[test]
    fn multi_line_data_comments_and_fields() {
        let ev = parse_all(&[
            b": keep-alive\n\n:ping\nevent: message_start\nid: 7\ndata: {\"a\":\ndata:1}\nretry: 10\n\n",
        ]);
        assert_eq!(
            ev,
            vec![SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":\n1}".into(),
                id: Some("7".into())
            }]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_name_resets() {
        let ev = parse_all(&[b"event: ping\n\ndata: x\n\n"]);
        assert_eq!(ev, vec![data("x")]);
    }

    #[test]
    fn done_marker_bom_and_missing_final_blank_line() {
        let ev = parse_all(&[b"\xEF\xBB\xBFdata: 1\n\ndata: [DONE]"]);
        assert_eq!(ev, vec![data("1"), data("[DONE]")]);
    }

    #[test]
    fn no_space_after_colon_and_empty_data_line() {
        let ev = parse_all(&[b"data:x\n\ndata\n\n"]);
        assert_eq!(ev, vec![data("x"), data("")]);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let bytes = "data: 你好\n\n".as_bytes();
        let ev = parse_all(&[&bytes[..8], &bytes[8..]]);
        assert_eq!(ev, vec![data("你好")]);
    }

    /// The same stream split at random points always parses the same.
    #[test]
    fn random_splits_give_the_same_events() {
        let stream = concat!(
            ": hello\r\n\r\n",
            "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"你好，世界\"}}]}\n\n",
            "data: line one\ndata: line two\n\n",
            ":keepalive\r",
            "data: cr only\r\r",
            "id: 42\nevent: x\ndata: y\n\n",
            "data: [DONE]\n\n",
        )
        .as_bytes();
        let whole = parse_all(&[stream]);
        assert_eq!(whole.len(), 6);
        assert_eq!(whole.last().unwrap().data, "[DONE]");
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
        for _ in 0..500 {
            let mut cuts: Vec<usize> =
                (0..rng.gen_range(0..12)).map(|_| rng.gen_range(0..=stream.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts {
                chunks.push(&stream[prev..c]);
                prev = c;
            }
            chunks.push(&stream[prev..]);
            assert_eq!(
                parse_all(&chunks),
                whole,
                "splits: {:?}",
                chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
        }
        // Byte by byte.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole);
    }
}
