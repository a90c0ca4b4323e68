//! Strict, bounded, incremental parser for the WHATWG `text/event-stream` format.
//!
//! It follows the parsing rules of the HTML standard ("Server-sent events", §9.2.6)
//! exactly, so the events it yields are the ones a browser's `EventSource` would see,
//! and in addition reports what a lenient client silently tolerates (invalid UTF-8, an
//! event cut off by the end of the stream, a repeated event id) as separate problem
//! items. Like the NDJSON decoder, its output depends only on the byte sequence, never
//! on how it was chunked (checked by proptest and by the `sse_decoder` fuzz target).

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fmt;

/// How many bytes of an offending line or event a problem item keeps as evidence.
pub const SSE_EVIDENCE_BYTES: usize = 256;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Bounds on what one peer can make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// Longest line, in bytes, without its line ending.
    pub max_line: usize,
    /// Largest event: its data (with the joining newlines) plus its type, in bytes.
    pub max_event: usize,
    /// Bytes of past event ids remembered to spot duplicates; the oldest are forgotten
    /// first, so a duplicate further back than this goes unreported.
    pub max_remembered_ids: usize,
}

impl Default for SseLimits {
    fn default() -> Self {
        // Generous for one JSON-RPC message per event (the MCP use), small enough to
        // keep a hostile stream from exhausting memory.
        SseLimits {
            max_line: 16 * 1024 * 1024,
            max_event: 16 * 1024 * 1024,
            max_remembered_ids: 1024 * 1024,
        }
    }
}

/// A dispatched event, as `EventSource` would deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `message` when there was none (or it was empty).
    pub event_type: String,
    /// The `data` fields joined with `\n`.
    pub data: String,
    /// The `id` field of this very event, if it had a valid one (possibly empty).
    pub id: Option<String>,
    /// The stream's last event id after this event: what a reconnect would send as
    /// `Last-Event-ID`. Inherited from earlier events when this one had no `id`.
    pub last_event_id: String,
    /// The `retry` field given inside this event's block, if any.
    pub retry: Option<u64>,
}

/// One thing the decoder found in the stream, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    /// A valid `retry` field: the reconnection time in milliseconds (saturating).
    Retry(u64),
    /// A line longer than `limit` bytes; it was discarded, and with it the event it
    /// belonged to (unless it was a comment). `line` is 1-based.
    LineTooLong {
        line: u64,
        limit: usize,
        evidence: Vec<u8>,
    },
    /// The event's data and type outgrew `limit` at `line`; the event is discarded.
    EventTooLarge {
        line: u64,
        limit: usize,
    },
    /// `line` is not valid UTF-8 from byte `valid_up_to`. It is still processed with
    /// U+FFFD in place of the bad bytes, as the standard's decoder does.
    InvalidUtf8 {
        line: u64,
        valid_up_to: usize,
    },
    /// The stream ended before the event in progress was dispatched (no blank line
    /// after it), so a conforming client drops it. `data` is the data buffered so far
    /// (truncated evidence); `partial_line` is the length of an unfinished last line.
    UnterminatedEventAtEof {
        data: String,
        partial_line: usize,
    },
    /// An event carried the same non-empty id as an earlier event of this stream. The
    /// event itself follows as usual.
    DuplicateEventId {
        id: String,
        line: u64,
    },
}

impl SseItem {
    pub fn as_event(&self) -> Option<&SseEvent> {
        match self {
            SseItem::Event(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this item reports a deviation rather than stream content.
    pub fn is_problem(&self) -> bool {
        !matches!(self, SseItem::Event(_) | SseItem::Retry(_))
    }
}

impl fmt::Display for SseItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseItem::Event(e) => write!(f, "event {:?} ({} bytes of data)", e.event_type, e.data.len()),
            SseItem::Retry(ms) => write!(f, "retry {ms} ms"),
            SseItem::LineTooLong { line, limit, .. } => {
                write!(f, "line {line} exceeds the {limit}-byte limit")
            }
            SseItem::EventTooLarge { line, limit } => {
                write!(f, "event exceeds the {limit}-byte limit at line {line}")
            }
            SseItem::InvalidUtf8 { line, valid_up_to } => {
                write!(f, "invalid UTF-8 at byte {valid_up_to} of line {line}")
            }
            SseItem::UnterminatedEventAtEof { partial_line, .. } => write!(
                f,
                "stream ended before the event was dispatched (no blank line; {partial_line} bytes of unfinished line)"
            ),
            SseItem::DuplicateEventId { id, line } => {
                write!(f, "event id {id:?} repeated (event ending at line {line})")
            }
        }
    }
}

/// Incremental decoder. Feed bytes with [`push`](Self::push) as they arrive; call
/// [`finish`](Self::finish) when the stream closes. Bytes pushed after `finish` are
/// ignored.
#[derive(Debug)]
pub struct SseDecoder {
    limits: SseLimits,
    /// While `Some(n)`, the first `n` bytes of the stream matched a BOM so far.
    bom_matched: Option<usize>,
    line: Vec<u8>,
    /// Length of the current line, including bytes dropped because it is too long.
    line_len: usize,
    overlong: bool,
    /// The last line ended with CR: a following LF belongs to that line ending, even
    /// if it arrives in the next chunk.
    after_cr: bool,
    /// Lines completed so far.
    lines: u64,
    // The event block in progress.
    event_type: String,
    data: String,
    id_field: Option<String>,
    retry_field: Option<u64>,
    block_started: bool,
    discard_event: bool,
    // Stream-wide state.
    last_event_id_buffer: String,
    last_event_id: String,
    seen_ids: HashSet<String>,
    seen_order: VecDeque<String>,
    seen_bytes: usize,
    finished: bool,
}

impl SseDecoder {
    pub fn new(limits: SseLimits) -> Self {
        SseDecoder {
            limits: SseLimits {
                max_line: limits.max_line.max(1),
                max_event: limits.max_event.max(1),
                ..limits
            },
            bom_matched: Some(0),
            line: Vec::new(),
            line_len: 0,
            overlong: false,
            after_cr: false,
            lines: 0,
            event_type: String::new(),
            data: String::new(),
            id_field: None,
            retry_field: None,
            block_started: false,
            discard_event: false,
            last_event_id_buffer: String::new(),
            last_event_id: String::new(),
            seen_ids: HashSet::new(),
            seen_order: VecDeque::new(),
            seen_bytes: 0,
            finished: false,
        }
    }

    pub fn limits(&self) -> SseLimits {
        self.limits
    }

    /// The stream's last event id so far (what a reconnect sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Decode as much as `bytes` completes, appending items to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseItem>) {
        if self.finished {
            return;
        }
        // A single leading BOM is stripped; it may arrive split across chunks.
        while let Some(matched) = self.bom_matched {
            let Some(&b) = bytes.first() else { return };
            if b == BOM[matched] {
                bytes = &bytes[1..];
                self.bom_matched = (matched + 1 < BOM.len()).then_some(matched + 1);
            } else {
                self.bom_matched = None;
                self.feed(&BOM[..matched], out);
            }
        }
        self.feed(bytes, out);
    }

    /// Signal the end of the stream: reports an event that was never dispatched.
    pub fn finish(&mut self, out: &mut Vec<SseItem>) {
        if self.finished {
            return;
        }
        if let Some(matched) = self.bom_matched.take() {
            self.feed(&BOM[..matched], out);
        }
        self.finished = true;
        if self.line_len > 0 || self.block_started {
            out.push(SseItem::UnterminatedEventAtEof {
                data: truncate_str(&self.data, SSE_EVIDENCE_BYTES).to_string(),
                partial_line: self.line_len,
            });
        }
        // The standard discards pending data at end of file.
        self.line = Vec::new();
        self.line_len = 0;
        self.data = String::new();
        self.event_type = String::new();
    }

    /// Convenience: decode a complete byte string in one call.
    pub fn decode_all(limits: SseLimits, bytes: &[u8]) -> Vec<SseItem> {
        let mut decoder = SseDecoder::new(limits);
        let mut out = Vec::new();
        decoder.push(bytes, &mut out);
        decoder.finish(&mut out);
        out
    }

    fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<SseItem>) {
        while let Some(&first) = bytes.first() {
            if std::mem::take(&mut self.after_cr) && first == b'\n' {
                bytes = &bytes[1..];
                continue;
            }
            match bytes.iter().position(|&b| b == b'\r' || b == b'\n') {
                Some(i) => {
                    self.append(&bytes[..i], out);
                    self.after_cr = bytes[i] == b'\r';
                    bytes = &bytes[i + 1..];
                    self.end_line(out);
                }
                None => {
                    self.append(bytes, out);
                    bytes = &[];
                }
            }
        }
    }

    fn append(&mut self, content: &[u8], out: &mut Vec<SseItem>) {
        self.line_len = self.line_len.saturating_add(content.len());
        if self.overlong || content.is_empty() {
            return;
        }
        if self.line_len <= self.limits.max_line {
            self.line.extend_from_slice(content);
            return;
        }
        // Reported as soon as the bound is crossed, so an endless line is noticed
        // while it is still arriving; the rest of it is dropped up to its ending. The
        // evidence is the line's first bytes up to just past the bound, whatever the
        // chunking.
        let keep = SSE_EVIDENCE_BYTES.min(self.limits.max_line.saturating_add(1));
        let mut evidence = std::mem::take(&mut self.line);
        evidence.truncate(keep);
        let room = keep - evidence.len();
        evidence.extend_from_slice(&content[..room.min(content.len())]);
        if evidence.first() != Some(&b':') {
            // A field line was lost, so the event it belongs to cannot be trusted.
            self.discard_event = true;
            self.block_started = true;
        }
        self.overlong = true;
        out.push(SseItem::LineTooLong {
            line: self.lines + 1,
            limit: self.limits.max_line,
            evidence,
        });
    }

    fn end_line(&mut self, out: &mut Vec<SseItem>) {
        self.lines += 1;
        self.line_len = 0;
        if std::mem::take(&mut self.overlong) {
            return;
        }
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let text = match std::str::from_utf8(&line) {
            Ok(text) => Cow::Borrowed(text),
            Err(e) => {
                out.push(SseItem::InvalidUtf8 {
                    line: self.lines,
                    valid_up_to: e.valid_up_to(),
                });
                String::from_utf8_lossy(&line)
            }
        };
        if text.starts_with(':') {
            return; // comment
        }
        self.block_started = true;
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&text[..], ""),
        };
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        match field {
            "event" => {
                let fits = self.fits(self.data.len(), value.len(), out);
                if fits {
                    self.event_type = value.to_string();
                }
            }
            "data" => {
                let current = self.event_type.len() + self.data.len();
                let fits = self.fits(current, value.len() + 1, out);
                if fits {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
            }
            "id" if !value.contains('\0') => {
                self.last_event_id_buffer = value.to_string();
                self.id_field = Some(value.to_string());
            }
            "retry" if digits => {
                let ms = value.bytes().fold(0u64, |acc, b| {
                    acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
                });
                self.retry_field = Some(ms);
                out.push(SseItem::Retry(ms));
            }
            // Unknown fields, ids with NUL and non-digit retries: ignored, as specified.
            _ => {}
        }
    }

    /// Whether `extra` more bytes keep the event within its bound; reports and discards
    /// the event the first time they do not.
    fn fits(&mut self, current: usize, extra: usize, out: &mut Vec<SseItem>) -> bool {
        if self.discard_event {
            return false;
        }
        if current.saturating_add(extra) <= self.limits.max_event {
            return true;
        }
        self.discard_event = true;
        self.data = String::new();
        self.event_type = String::new();
        out.push(SseItem::EventTooLarge {
            line: self.lines,
            limit: self.limits.max_event,
        });
        false
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        // The last event id is updated on every blank line, even without an event.
        self.last_event_id.clone_from(&self.last_event_id_buffer);
        let id = self.id_field.take();
        let retry = self.retry_field.take();
        self.block_started = false;
        let discard = std::mem::take(&mut self.discard_event);
        let mut data = std::mem::take(&mut self.data);
        let event_type = std::mem::take(&mut self.event_type);
        if discard || data.is_empty() {
            return;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        if let Some(id) = id.as_deref().filter(|id| !id.is_empty()) {
            if !self.remember_id(id) {
                out.push(SseItem::DuplicateEventId {
                    id: id.to_string(),
                    line: self.lines,
                });
            }
        }
        out.push(SseItem::Event(SseEvent {
            event_type: if event_type.is_empty() {
                "message".to_string()
            } else {
                event_type
            },
            data,
            id,
            last_event_id: self.last_event_id.clone(),
            retry,
        }));
    }

    /// Remember `id`; false if it was already remembered.
    fn remember_id(&mut self, id: &str) -> bool {
        if self.seen_ids.contains(id) {
            return false;
        }
        // Per-entry overhead counted so that many tiny ids are bounded too.
        let cost = |id: &str| id.len() + 32;
        if cost(id) > self.limits.max_remembered_ids {
            return true;
        }
        self.seen_bytes += cost(id);
        self.seen_ids.insert(id.to_string());
        self.seen_order.push_back(id.to_string());
        while self.seen_bytes > self.limits.max_remembered_ids {
            let Some(old) = self.seen_order.pop_front() else {
                break;
            };
            self.seen_bytes -= cost(&old);
            self.seen_ids.remove(&old);
        }
        true
    }
}

fn truncate_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<SseItem> {
        SseDecoder::decode_all(SseLimits::default(), bytes)
    }

    fn event(event_type: &str, data: &str) -> SseEvent {
        SseEvent {
            event_type: event_type.into(),
            data: data.into(),
            id: None,
            last_event_id: String::new(),
            retry: None,
        }
    }

    fn events(items: &[SseItem]) -> Vec<SseEvent> {
        items
            .iter()
            .filter_map(SseItem::as_event)
            .cloned()
            .collect()
    }

    fn problems(items: &[SseItem]) -> Vec<SseItem> {
        items.iter().filter(|i| i.is_problem()).cloned().collect()
    }

    #[test]
    fn dispatches_on_blank_line_with_default_type() {
        assert_eq!(
            decode(b"data: hello\n\n"),
            vec![SseItem::Event(event("message", "hello"))]
        );
    }

    #[test]
    fn event_field_sets_the_type_and_empty_type_means_message() {
        let items = decode(b"event: endpoint\ndata: /messages?s=1\n\nevent:\ndata: x\n\n");
        assert_eq!(
            events(&items),
            vec![event("endpoint", "/messages?s=1"), event("message", "x")]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let items = decode(b"data: a\ndata:b\ndata\ndata:  c\n\n");
        assert_eq!(events(&items), vec![event("message", "a\nb\n\n c")]);
    }

    #[test]
    fn only_one_leading_space_is_stripped_and_colons_in_values_stay() {
        let items = decode(b"data:  {\"a\":1}\n\n");
        assert_eq!(events(&items)[0].data, " {\"a\":1}");
    }

    #[test]
    fn cr_lf_and_crlf_all_end_lines() {
        let expected = vec![event("message", "a\nb"), event("message", "c")];
        for stream in [
            &b"data: a\ndata: b\n\ndata: c\n\n"[..],
            b"data: a\rdata: b\r\rdata: c\r\r",
            b"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            b"data: a\r\ndata: b\r\r\ndata: c\n\r",
        ] {
            assert_eq!(events(&decode(stream)), expected, "{stream:?}");
        }
    }

    #[test]
    fn cr_and_lf_split_across_chunks_are_one_line_ending() {
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut out = Vec::new();
        decoder.push(b"data: a\r", &mut out);
        decoder.push(b"\ndata: b\r", &mut out);
        decoder.push(b"\n\r", &mut out);
        // Had an LF after a chunk-final CR counted as a second line ending, "a" would
        // have been dispatched alone. The final CR dispatches at once, before its LF.
        assert_eq!(events(&out), vec![event("message", "a\nb")]);
        decoder.push(b"\n", &mut out);
        decoder.finish(&mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn lone_cr_then_lf_in_the_next_chunk_does_not_make_a_blank_line() {
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut out = Vec::new();
        decoder.push(b"data: a\r", &mut out);
        decoder.push(b"\ndata: b\n\n", &mut out);
        assert_eq!(events(&out), vec![event("message", "a\nb")]);
    }

    #[test]
    fn a_leading_bom_is_stripped_once_even_when_split() {
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut out = Vec::new();
        decoder.push(b"\xEF", &mut out);
        decoder.push(b"\xBB", &mut out);
        decoder.push(b"\xBFdata: x\n\n", &mut out);
        assert_eq!(events(&out), vec![event("message", "x")]);
        // A second BOM is not stripped: the field name is then "\u{feff}data".
        let items = decode(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n");
        assert!(events(&items).is_empty());
        // A BOM prefix that does not complete is ordinary content.
        let items = decode(b"\xEF\xBBdata: x\n\n");
        assert!(matches!(
            problems(&items)[..],
            [SseItem::InvalidUtf8 {
                line: 1,
                valid_up_to: 0
            }]
        ));
    }

    #[test]
    fn comments_are_ignored() {
        let items = decode(b": keep-alive\ndata: x\n: another\n\n:\n\n");
        assert_eq!(items, vec![SseItem::Event(event("message", "x"))]);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let items = decode(b"foo: bar\nDATA: no\ndata: yes\nevent :x\n\n");
        assert_eq!(items, vec![SseItem::Event(event("message", "yes"))]);
    }

    #[test]
    fn id_sets_the_last_event_id_which_later_events_inherit() {
        let items = decode(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
        let evs = events(&items);
        assert_eq!(
            (evs[0].id.as_deref(), &evs[0].last_event_id[..]),
            (Some("1"), "1")
        );
        assert_eq!(
            (evs[1].id.as_deref(), &evs[1].last_event_id[..]),
            (None, "1")
        );
        // An empty id resets the last event id.
        assert_eq!(
            (evs[2].id.as_deref(), &evs[2].last_event_id[..]),
            (Some(""), "")
        );
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let items = decode(b"id: 7\ndata: a\n\nid: x\0y\ndata: b\n\n");
        let evs = events(&items);
        assert_eq!(evs[1].id, None);
        assert_eq!(evs[1].last_event_id, "7");
    }

    #[test]
    fn id_only_block_updates_last_event_id_without_an_event() {
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut out = Vec::new();
        decoder.push(b"id: 42\n\n", &mut out);
        assert!(out.is_empty());
        assert_eq!(decoder.last_event_id(), "42");
    }

    #[test]
    fn retry_accepts_digits_only() {
        let items = decode(b"retry: 1500\nretry: 1.5\nretry: -1\nretry:\nretry: 10s\ndata: x\n\n");
        assert_eq!(items[0], SseItem::Retry(1500));
        assert_eq!(items.len(), 2);
        assert_eq!(events(&items)[0].retry, Some(1500));
        assert_eq!(
            decode(b"retry: 99999999999999999999999\n\n"),
            vec![SseItem::Retry(u64::MAX)]
        );
    }

    #[test]
    fn blank_line_without_data_dispatches_nothing_and_resets_the_type() {
        let items = decode(b"event: a\n\ndata: x\n\n\n\n");
        assert_eq!(items, vec![SseItem::Event(event("message", "x"))]);
        // An empty data field still makes an event, with empty data.
        assert_eq!(events(&decode(b"data\n\n")), vec![event("message", "")]);
    }

    #[test]
    fn unterminated_event_at_eof_is_reported_not_dispatched() {
        assert_eq!(
            decode(b"data: a\n\ndata: b\n"),
            vec![
                SseItem::Event(event("message", "a")),
                SseItem::UnterminatedEventAtEof {
                    data: "b\n".into(),
                    partial_line: 0
                }
            ]
        );
        assert_eq!(
            decode(b"data: b"),
            vec![SseItem::UnterminatedEventAtEof {
                data: String::new(),
                partial_line: 7
            }]
        );
        // A stream closed at an event boundary, or after a comment, is clean.
        assert!(decode(b"data: a\n\n: bye\n")
            .iter()
            .all(|i| !i.is_problem()));
        assert!(decode(b"").is_empty());
    }

    #[test]
    fn invalid_utf8_is_reported_and_replaced() {
        let items = decode(b"data: a\xFFb\n\n");
        assert_eq!(
            items[0],
            SseItem::InvalidUtf8 {
                line: 1,
                valid_up_to: 7
            }
        );
        assert_eq!(events(&items), vec![event("message", "a\u{FFFD}b")]);
    }

    #[test]
    fn too_long_line_is_reported_at_once_and_drops_its_event() {
        let limits = SseLimits {
            max_line: 8,
            ..SseLimits::default()
        };
        let mut decoder = SseDecoder::new(limits);
        let mut out = Vec::new();
        decoder.push(b"data: ok\n\ndata: 0123456789", &mut out);
        assert_eq!(
            out[1],
            SseItem::LineTooLong {
                line: 3,
                limit: 8,
                evidence: b"data: 012".to_vec()
            }
        );
        decoder.push(b"more\ndata: tl\n\ndata: nx\n\n", &mut out);
        decoder.finish(&mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(
            events(&out),
            vec![event("message", "ok"), event("message", "nx")]
        );
        // An over-long comment costs nothing but the report.
        let items = SseDecoder::decode_all(limits, b": 0123456789\ndata: x\n\n");
        assert_eq!(events(&items), vec![event("message", "x")]);
    }

    #[test]
    fn too_large_event_is_reported_and_dropped() {
        let limits = SseLimits {
            max_event: 10,
            ..SseLimits::default()
        };
        let items =
            SseDecoder::decode_all(limits, b"data: 12345\ndata: 678\ndata: 9\n\ndata: y\n\n");
        assert_eq!(
            items,
            vec![
                SseItem::EventTooLarge { line: 3, limit: 10 },
                SseItem::Event(event("message", "y"))
            ]
        );
        // Exactly at the bound (data plus its newline) is fine.
        let items = SseDecoder::decode_all(limits, b"data: 123456789\n\n");
        assert_eq!(events(&items), vec![event("message", "123456789")]);
    }

    #[test]
    fn duplicate_ids_are_reported_and_the_event_still_dispatched() {
        let items = decode(b"id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 1\ndata: c\n\n");
        assert_eq!(
            items[2],
            SseItem::DuplicateEventId {
                id: "1".into(),
                line: 9
            }
        );
        assert_eq!(events(&items).len(), 3);
        // Inheriting an id or repeating an empty one is not a duplicate.
        let items = decode(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid:\ndata: d\n\n");
        assert!(problems(&items).is_empty());
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let limits = SseLimits {
            max_remembered_ids: 2 * (1 + 32),
            ..SseLimits::default()
        };
        let items = SseDecoder::decode_all(
            limits,
            b"id:1\ndata:a\n\nid:2\ndata:a\n\nid:3\ndata:a\n\nid:1\ndata:a\n\nid:3\ndata:a\n\n",
        );
        // "1" was forgotten when "3" arrived; "3" is still remembered.
        assert_eq!(
            problems(&items),
            vec![SseItem::DuplicateEventId {
                id: "3".into(),
                line: 15
            }]
        );
    }

    #[test]
    fn bytes_after_finish_are_ignored() {
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut out = Vec::new();
        decoder.finish(&mut out);
        decoder.push(b"data: x\n\n", &mut out);
        decoder.finish(&mut out);
        assert!(out.is_empty());
    }
}
