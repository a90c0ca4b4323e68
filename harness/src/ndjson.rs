//! Strict, bounded decoder for newline-delimited JSON read from an untrusted peer.
//!
//! The decoder sees raw bytes exactly as they arrive, so it can say precisely what is
//! wrong with a line instead of silently resynchronising. Frames depend only on the byte
//! sequence, never on how it was chunked: feeding the same bytes in any split yields the
//! same frames (a property checked by proptest and by a fuzz target).

use serde_json::Value;
use std::fmt;

/// Default bound on one line: generous for real servers, small enough to stay safe.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// How many bytes of an offending line a frame keeps as evidence.
pub const EVIDENCE_BYTES: usize = 512;

/// One unit the decoder produced from the byte stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A line holding exactly one JSON value. `raw` excludes the trailing newline.
    Message { value: Value, raw: Vec<u8> },
    /// A line (or run of lines) that is not one JSON value; `raw` is truncated evidence.
    Invalid { error: FrameError, raw: Vec<u8> },
}

impl Frame {
    pub fn as_message(&self) -> Option<&Value> {
        match self {
            Frame::Message { value, .. } => Some(value),
            Frame::Invalid { .. } => None,
        }
    }
}

/// What is wrong with a line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The line is empty (or only whitespace).
    EmptyLine,
    /// The line is not valid UTF-8; `valid_up_to` is the offset of the first bad byte.
    InvalidUtf8 { valid_up_to: usize },
    /// The line is not JSON at all.
    NotJson { reason: String },
    /// A JSON value followed by more non-whitespace bytes on the same line.
    TrailingBytes { value_end: usize },
    /// One JSON value spread over several lines (pretty printing or raw newlines in strings).
    MultiLine { lines: usize },
    /// The line exceeded the configured bound; its bytes were discarded.
    Oversize { len: usize, limit: usize },
    /// The stream ended in the middle of a line (no final newline).
    PartialAtEof { len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::EmptyLine => write!(f, "empty line"),
            FrameError::InvalidUtf8 { valid_up_to } => {
                write!(f, "invalid UTF-8 at byte {valid_up_to} of the line")
            }
            FrameError::NotJson { reason } => write!(f, "line is not JSON: {reason}"),
            FrameError::TrailingBytes { value_end } => {
                write!(
                    f,
                    "bytes after the JSON value (value ends at byte {value_end})"
                )
            }
            FrameError::MultiLine { lines } => {
                write!(f, "one JSON value spread over {lines} lines")
            }
            FrameError::Oversize { len, limit } => {
                write!(f, "line of {len} bytes exceeds the {limit}-byte limit")
            }
            FrameError::PartialAtEof { len } => {
                write!(
                    f,
                    "stream ended inside a line ({len} bytes without newline)"
                )
            }
        }
    }
}

/// Incremental decoder. Feed bytes with [`push`](Self::push); call [`finish`](Self::finish)
/// at end of stream.
#[derive(Debug)]
pub struct NdjsonDecoder {
    max_line: usize,
    line: Vec<u8>,
    /// Bytes of the current oversize line seen so far (line content is dropped).
    discarding: Option<usize>,
    /// Lines held back because they looked like the start of a multi-line value.
    continuation: Option<Continuation>,
}

#[derive(Debug)]
struct Continuation {
    joined: Vec<u8>,
    lines: usize,
    nesting: Nesting,
    /// Full parses made before the value could be complete (see `end_line`).
    early_parses: usize,
}

/// Full parses of a held value allowed before its brackets close. Re-parsing the whole
/// joined text on every line made a hostile `{` followed by many lines quadratic.
const MAX_EARLY_PARSES: usize = 32;

/// Bracket depth and string state of the held lines, tracked as they arrive so the
/// joined text is parsed only when it may be complete.
#[derive(Debug, Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
            }
        }
    }

    fn may_be_complete(&self) -> bool {
        self.depth == 0 && !self.in_string
    }
}

enum LineParse {
    Value(Value),
    Incomplete,
    Invalid(FrameError),
}

impl NdjsonDecoder {
    pub fn new(max_line: usize) -> Self {
        NdjsonDecoder {
            max_line: max_line.max(1),
            line: Vec::new(),
            discarding: None,
            continuation: None,
        }
    }

    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Decode as much as `bytes` completes, appending frames to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Frame>) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (chunk, rest, ends_line) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &bytes[bytes.len()..], false),
            };
            bytes = rest;
            if let Some(seen) = self.discarding.as_mut() {
                *seen += chunk.len();
                keep_evidence(&mut self.line, chunk);
            } else if self.line.len() + chunk.len() > self.max_line {
                // Over the bound: keep only a prefix as evidence (the same prefix
                // however the bytes were chunked) and drop the rest up to the newline.
                self.discarding = Some(self.line.len() + chunk.len());
                self.line.truncate(EVIDENCE_BYTES);
                keep_evidence(&mut self.line, chunk);
            } else {
                self.line.extend_from_slice(chunk);
            }
            if ends_line {
                self.end_line(out);
            }
        }
    }

    /// Signal end of stream: flushes held-back lines and reports a partial last line.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        let partial_len = self.discarding.take().unwrap_or(self.line.len());
        let had_partial = partial_len > 0;
        let partial = std::mem::take(&mut self.line);
        self.flush_continuation(out);
        if had_partial {
            out.push(Frame::Invalid {
                error: FrameError::PartialAtEof { len: partial_len },
                raw: evidence(&partial),
            });
        }
    }

    /// Convenience: decode a complete byte string in one call.
    pub fn decode_all(max_line: usize, bytes: &[u8]) -> Vec<Frame> {
        let mut decoder = NdjsonDecoder::new(max_line);
        let mut out = Vec::new();
        decoder.push(bytes, &mut out);
        decoder.finish(&mut out);
        out
    }

    fn end_line(&mut self, out: &mut Vec<Frame>) {
        let line = std::mem::take(&mut self.line);
        if let Some(len) = self.discarding.take() {
            self.flush_continuation(out);
            out.push(Frame::Invalid {
                error: FrameError::Oversize {
                    len,
                    limit: self.max_line,
                },
                raw: line,
            });
            return;
        }
        if let Some(mut cont) = self.continuation.take() {
            if cont.joined.len() + 1 + line.len() > self.max_line {
                out.push(Frame::Invalid {
                    error: FrameError::Oversize {
                        len: cont.joined.len() + 1 + line.len(),
                        limit: self.max_line,
                    },
                    raw: evidence(&cont.joined),
                });
                self.start_line(line, out);
                return;
            }
            // A raw newline inside a string makes the joined text invalid at once.
            let string_broken = cont.nesting.in_string;
            cont.nesting.scan(&line);
            // Parse the joined text only when it may have become a value, or, a bounded
            // number of times, when this line is a whole value by itself: then the held
            // lines were probably debris and this line a message that must not be
            // swallowed.
            let must_parse = string_broken || cont.nesting.may_be_complete();
            let early = !must_parse
                && cont.early_parses < MAX_EARLY_PARSES
                && matches!(parse_line(&line), LineParse::Value(_));
            cont.joined.push(b'\n');
            cont.joined.extend_from_slice(&line);
            cont.lines += 1;
            if !(must_parse || early) {
                self.continuation = Some(cont);
                return;
            }
            cont.early_parses += usize::from(early);
            match parse_line(&cont.joined) {
                LineParse::Value(_) => out.push(Frame::Invalid {
                    error: FrameError::MultiLine { lines: cont.lines },
                    raw: evidence(&cont.joined),
                }),
                LineParse::Incomplete => self.continuation = Some(cont),
                LineParse::Invalid(_) => {
                    // The held lines never became a value: report them as not JSON and
                    // judge the current line on its own, so one bad line cannot swallow
                    // the messages that follow it.
                    let held_len = cont.joined.len() - line.len() - 1;
                    cont.joined.truncate(held_len);
                    out.push(not_json_frame(&cont.joined));
                    self.start_line(line, out);
                }
            }
            return;
        }
        self.start_line(line, out);
    }

    fn start_line(&mut self, line: Vec<u8>, out: &mut Vec<Frame>) {
        match parse_line(&line) {
            LineParse::Value(value) => out.push(Frame::Message { value, raw: line }),
            LineParse::Incomplete => {
                let mut nesting = Nesting::default();
                nesting.scan(&line);
                self.continuation = Some(Continuation {
                    joined: line,
                    lines: 1,
                    nesting,
                    early_parses: 0,
                })
            }
            LineParse::Invalid(error) => out.push(Frame::Invalid {
                error,
                raw: evidence(&line),
            }),
        }
    }

    fn flush_continuation(&mut self, out: &mut Vec<Frame>) {
        if let Some(cont) = self.continuation.take() {
            out.push(not_json_frame(&cont.joined));
        }
    }
}

fn not_json_frame(bytes: &[u8]) -> Frame {
    let reason = match serde_json::from_slice::<Value>(bytes) {
        Err(e) => e.to_string(),
        Ok(_) => "incomplete value".to_string(),
    };
    Frame::Invalid {
        error: FrameError::NotJson { reason },
        raw: evidence(bytes),
    }
}

fn keep_evidence(kept: &mut Vec<u8>, more: &[u8]) {
    let room = EVIDENCE_BYTES.saturating_sub(kept.len());
    kept.extend_from_slice(&more[..room.min(more.len())]);
}

fn evidence(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(EVIDENCE_BYTES)].to_vec()
}

fn parse_line(line: &[u8]) -> LineParse {
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return LineParse::Invalid(FrameError::EmptyLine);
    }
    if let Err(e) = std::str::from_utf8(line) {
        return LineParse::Invalid(FrameError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        });
    }
    let mut stream = serde_json::Deserializer::from_slice(line).into_iter::<Value>();
    match stream.next() {
        Some(Ok(value)) => {
            let end = stream.byte_offset();
            if line[end..].iter().all(|b| b.is_ascii_whitespace()) {
                LineParse::Value(value)
            } else {
                LineParse::Invalid(FrameError::TrailingBytes { value_end: end })
            }
        }
        Some(Err(e)) if e.is_eof() && opens_structure(line) => LineParse::Incomplete,
        Some(Err(e)) => LineParse::Invalid(FrameError::NotJson {
            reason: e.to_string(),
        }),
        None => LineParse::Invalid(FrameError::EmptyLine),
    }
}

/// Only an unfinished object, array or string can legitimately continue on the next line;
/// a lone truncated literal cannot.
fn opens_structure(line: &[u8]) -> bool {
    matches!(
        line.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[' | b'"')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(bytes: &[u8]) -> Vec<Frame> {
        NdjsonDecoder::decode_all(1024, bytes)
    }

    fn errors(frames: &[Frame]) -> Vec<FrameError> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::Invalid { error, .. } => Some(error.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn decodes_messages_one_per_line() {
        let frames = decode(b"{\"a\":1}\n[2]\r\n\"s\"\n");
        let values: Vec<_> = frames.iter().filter_map(Frame::as_message).collect();
        assert_eq!(values, vec![&json!({"a":1}), &json!([2]), &json!("s")]);
    }

    #[test]
    fn reports_each_kind_of_damage() {
        assert_eq!(errors(&decode(b"\n")), vec![FrameError::EmptyLine]);
        assert_eq!(
            errors(&decode(b"{\"a\":\"\xC3\x28\"}\n")),
            vec![FrameError::InvalidUtf8 { valid_up_to: 6 }]
        );
        assert!(matches!(
            errors(&decode(b"server ready\n"))[..],
            [FrameError::NotJson { .. }]
        ));
        assert_eq!(
            errors(&decode(b"{} {}\n")),
            vec![FrameError::TrailingBytes { value_end: 2 }]
        );
        assert_eq!(
            errors(&decode(b"{\n  \"a\": 1\n}\n")),
            vec![FrameError::MultiLine { lines: 3 }]
        );
        assert_eq!(
            errors(&decode(b"{\"a\":1}")),
            vec![FrameError::PartialAtEof { len: 7 }]
        );
    }

    #[test]
    fn oversize_lines_are_dropped_but_later_lines_survive() {
        let mut bytes = vec![b'x'; 5000];
        bytes.extend_from_slice(b"\n{}\n");
        let frames = decode(&bytes);
        assert_eq!(
            errors(&frames),
            vec![FrameError::Oversize {
                len: 5000,
                limit: 1024
            }]
        );
        assert_eq!(frames[1].as_message(), Some(&json!({})));
        if let Frame::Invalid { raw, .. } = &frames[0] {
            assert_eq!(raw.len(), EVIDENCE_BYTES);
        }
    }

    #[test]
    fn an_opening_brace_and_many_lines_do_not_swallow_the_next_message() {
        // Also the shape that once made the decoder quadratic (each line re-parsed
        // everything held); `cargo bench`-style timing lives in scripts, not here.
        let mut input = b"{\n".to_vec();
        input.extend(std::iter::repeat_n(b'\n', 50_000));
        input.extend_from_slice(b"{\"ok\":true}\n");
        let frames = NdjsonDecoder::decode_all(DEFAULT_MAX_LINE, &input);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(matches!(
            &frames[0],
            Frame::Invalid {
                error: FrameError::NotJson { .. },
                ..
            }
        ));
        assert_eq!(frames[1].as_message(), Some(&json!({"ok": true})));
    }

    #[test]
    fn a_bad_line_does_not_swallow_the_next_message() {
        let frames = decode(b"{\"broken\n{\"ok\":true}\n");
        assert!(matches!(
            &frames[0],
            Frame::Invalid {
                error: FrameError::NotJson { .. },
                ..
            }
        ));
        assert_eq!(frames[1].as_message(), Some(&json!({"ok": true})));
    }

    #[test]
    fn unfinished_multi_line_value_at_eof_is_not_json() {
        let frames = decode(b"{\n\"a\":\n");
        assert!(matches!(errors(&frames)[..], [FrameError::NotJson { .. }]));
    }
}
