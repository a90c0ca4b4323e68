//! Strict, bounded, incremental HTTP/1.1 response parser for the raw path.
//!
//! Client libraries repair or reject what a broken server sends before a test can look
//! at it; this parser sees the raw bytes and says exactly which framing rule of RFC 9112
//! was broken, and where (the stream offset). It handles the status line, header
//! fields, interim (1xx) responses, `Content-Length`, `chunked` (with extensions and
//! trailers) and close-delimited bodies, and pipelined responses on one connection.
//! Items depend only on the byte sequence (body bytes may be split differently), which
//! proptest and the `http_response_decoder` fuzz target check.
//!
//! Responses to `HEAD` are not supported: the parser cannot know the request method,
//! and the raw path never needs to send one.

use super::Headers;
use std::fmt;

/// How many bytes of an offending line an error keeps as evidence.
pub const RESPONSE_EVIDENCE_BYTES: usize = 256;

/// Bounds on what one response may make the parser hold or accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Status line plus header section, line endings included.
    pub max_head: usize,
    pub max_headers: usize,
    /// Body bytes of one response (after removing chunked framing).
    pub max_body: u64,
    /// One chunk-size line, extensions included.
    pub max_chunk_line: usize,
    /// The whole trailer section of a chunked body.
    pub max_trailers: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_head: 64 * 1024,
            max_headers: 128,
            max_body: 16 * 1024 * 1024,
            max_chunk_line: 4096,
            max_trailers: 16 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// 1xx, 204 and 304 responses.
    None,
    ContentLength(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A status line and header section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: HttpVersion,
    pub status: u16,
    pub reason: Vec<u8>,
    /// In arrival order, names as sent.
    pub headers: Headers,
    pub framing: BodyFraming,
    /// The server announced it closes the connection after this response.
    pub closes_connection: bool,
}

impl ResponseHead {
    /// An interim (1xx) response: the final one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        super::header(&self.headers, name)
    }
}

/// One thing the parser found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseItem {
    /// A status line and headers; interim (1xx) heads come before the final one.
    Head(ResponseHead),
    /// Body bytes (chunked framing removed), never empty. How a body is split into
    /// items depends on how it arrived.
    Body(Vec<u8>),
    /// The response is complete; `trailers` of a chunked body, empty otherwise.
    End { trailers: Headers },
    /// Framing is broken; nothing after it can be trusted, so the parser stops.
    Error(FramingError),
}

/// Where framing broke (`at`: offset from the start of the connection's byte stream)
/// and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    pub at: u64,
    pub kind: FramingErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingErrorKind {
    /// A line of the head or chunked framing ended with LF alone.
    BareLf,
    /// A CR not followed by LF.
    StrayCr,
    HeadTooLarge {
        limit: usize,
    },
    TooManyHeaders {
        limit: usize,
    },
    MalformedStatusLine {
        line: Vec<u8>,
    },
    UnsupportedVersion {
        version: Vec<u8>,
    },
    /// A header line that is not `token ":" OWS value OWS`; `reason` says which part.
    MalformedHeader {
        line: Vec<u8>,
        reason: &'static str,
    },
    /// A header line starting with whitespace (obsolete line folding).
    ObsoleteLineFolding {
        line: Vec<u8>,
    },
    InvalidContentLength {
        value: Vec<u8>,
    },
    ConflictingContentLength {
        values: Vec<Vec<u8>>,
    },
    /// `Transfer-Encoding` and `Content-Length` together: a smuggling signal.
    ContentLengthWithTransferEncoding,
    /// `chunked` applied more than once.
    ChunkedTwice,
    InvalidChunkSize {
        line: Vec<u8>,
    },
    ChunkLineTooLong {
        limit: usize,
    },
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    TrailersTooLarge {
        limit: usize,
    },
    /// A body larger than allowed (declared or received).
    BodyTooLarge {
        limit: u64,
    },
    /// The connection ended inside a status line or header section.
    TruncatedHead {
        received: usize,
    },
    /// The connection ended before `Content-Length` bytes arrived.
    TruncatedBody {
        expected: u64,
        received: u64,
    },
    /// The connection ended before the last chunk (and trailers) of a chunked body.
    TruncatedChunkedBody {
        received: u64,
    },
    /// Bytes after a response that closes the connection.
    DataAfterLastResponse,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FramingErrorKind::*;
        let ev = |b: &[u8]| crate::transcript::escape_bytes(b, 120);
        match &self.kind {
            BareLf => write!(f, "line ends with a bare LF (CRLF required)"),
            StrayCr => write!(f, "CR not followed by LF"),
            HeadTooLarge { limit } => write!(f, "response head exceeds {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            MalformedStatusLine { line } => write!(f, "malformed status line {:?}", ev(line)),
            UnsupportedVersion { version } => {
                write!(f, "unsupported HTTP version {:?}", ev(version))
            }
            MalformedHeader { line, reason } => {
                write!(f, "malformed header field ({reason}): {:?}", ev(line))
            }
            ObsoleteLineFolding { line } => write!(f, "obsolete line folding: {:?}", ev(line)),
            InvalidContentLength { value } => write!(f, "invalid Content-Length {:?}", ev(value)),
            ConflictingContentLength { values } => {
                let v: Vec<String> = values.iter().map(|v| ev(v)).collect();
                write!(f, "conflicting Content-Length values {v:?}")
            }
            ContentLengthWithTransferEncoding => {
                write!(f, "both Transfer-Encoding and Content-Length")
            }
            ChunkedTwice => write!(f, "chunked transfer coding applied twice"),
            InvalidChunkSize { line } => write!(f, "invalid chunk-size line {:?}", ev(line)),
            ChunkLineTooLong { limit } => write!(f, "chunk-size line exceeds {limit} bytes"),
            MissingChunkCrlf => write!(f, "chunk data not followed by CRLF"),
            TrailersTooLarge { limit } => write!(f, "trailer section exceeds {limit} bytes"),
            BodyTooLarge { limit } => write!(f, "body exceeds {limit} bytes"),
            TruncatedHead { received } => {
                write!(
                    f,
                    "connection closed inside the response head ({received} bytes)"
                )
            }
            TruncatedBody { expected, received } => write!(
                f,
                "connection closed after {received} of {expected} body bytes"
            ),
            TruncatedChunkedBody { received } => write!(
                f,
                "connection closed inside a chunked body ({received} bytes, no last chunk)"
            ),
            DataAfterLastResponse => {
                write!(f, "bytes after a response that closes the connection")
            }
        }?;
        write!(f, " at byte {}", self.at)
    }
}

impl std::error::Error for FramingError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body {
        remaining: u64,
    },
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    /// After chunk data: how many of the CRLF's bytes were seen.
    ChunkDataEnd {
        seen: u8,
    },
    Trailers,
    UntilClose,
    /// The last response said it closes the connection.
    Closed,
    Failed,
}

/// Incremental parser for the responses on one connection. Feed bytes with
/// [`push`](Self::push); call [`finish`](Self::finish) when the connection closes.
#[derive(Debug)]
pub struct ResponseDecoder {
    limits: ResponseLimits,
    state: State,
    /// Bytes consumed so far.
    offset: u64,
    line: Vec<u8>,
    line_start: u64,
    head_start: u64,
    head_bytes: usize,
    status: Option<(HttpVersion, u16, Vec<u8>)>,
    headers: Headers,
    closes: bool,
    body_received: u64,
    trailers: Headers,
    trailer_bytes: usize,
    finished: bool,
}

enum Line {
    Complete(Vec<u8>),
    Partial,
    TooLong,
}

impl ResponseDecoder {
    pub fn new(limits: ResponseLimits) -> Self {
        ResponseDecoder {
            limits,
            state: State::Head,
            offset: 0,
            line: Vec::new(),
            line_start: 0,
            head_start: 0,
            head_bytes: 0,
            status: None,
            headers: Vec::new(),
            closes: false,
            body_received: 0,
            trailers: Vec::new(),
            trailer_bytes: 0,
            finished: false,
        }
    }

    /// Convenience: parse a complete connection's bytes in one call.
    pub fn decode_all(limits: ResponseLimits, bytes: &[u8]) -> Vec<ResponseItem> {
        let mut decoder = ResponseDecoder::new(limits);
        let mut out = Vec::new();
        decoder.push(bytes, &mut out);
        decoder.finish(&mut out);
        out
    }

    /// Whether the parser stopped: after a framing error or [`finish`](Self::finish).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Failed) || self.finished
    }

    /// Whether the stream is between responses (a close here is clean).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Head && self.line.is_empty() && self.status.is_none()
    }

    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<ResponseItem>) {
        if self.finished {
            return;
        }
        while !bytes.is_empty() {
            match self.state {
                State::Failed => return,
                State::Closed => {
                    return self.fail(self.offset, FramingErrorKind::DataAfterLastResponse, out)
                }
                State::Head => {
                    if self.at_boundary() {
                        self.head_start = self.offset;
                    }
                    let budget = self.limits.max_head - self.head_bytes.min(self.limits.max_head);
                    match self.take_line(&mut bytes, budget) {
                        Line::Partial => {}
                        Line::TooLong => {
                            let limit = self.limits.max_head;
                            self.fail(
                                self.head_start,
                                FramingErrorKind::HeadTooLarge { limit },
                                out,
                            )
                        }
                        Line::Complete(line) => {
                            self.head_bytes += line.len();
                            if let Some(content) = self.line_content(&line, out) {
                                self.head_line(content, out);
                            }
                        }
                    }
                }
                State::Body { remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.emit_body(&bytes[..n], out);
                    bytes = &bytes[n..];
                    let remaining = remaining - n as u64;
                    if remaining == 0 {
                        self.end_response(Vec::new(), out);
                    } else {
                        self.state = State::Body { remaining };
                    }
                }
                State::UntilClose => {
                    let room = self.limits.max_body - self.body_received.min(self.limits.max_body);
                    let n = room.min(bytes.len() as u64) as usize;
                    self.emit_body(&bytes[..n], out);
                    bytes = &bytes[n..];
                    if !bytes.is_empty() {
                        let limit = self.limits.max_body;
                        self.fail(self.offset, FramingErrorKind::BodyTooLarge { limit }, out);
                    }
                }
                State::ChunkSize => match self.take_line(&mut bytes, self.limits.max_chunk_line) {
                    Line::Partial => {}
                    Line::TooLong => {
                        let limit = self.limits.max_chunk_line;
                        self.fail(
                            self.line_start,
                            FramingErrorKind::ChunkLineTooLong { limit },
                            out,
                        )
                    }
                    Line::Complete(line) => {
                        if let Some(content) = self.line_content(&line, out) {
                            self.chunk_size_line(content, out);
                        }
                    }
                },
                State::ChunkData { remaining } => {
                    // Within the body bound: chunk sizes are checked against it.
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.emit_body(&bytes[..n], out);
                    bytes = &bytes[n..];
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::ChunkDataEnd { seen: 0 }
                    } else {
                        State::ChunkData { remaining }
                    };
                }
                State::ChunkDataEnd { seen } => {
                    let expected = if seen == 0 { b'\r' } else { b'\n' };
                    if bytes[0] != expected {
                        return self.fail(self.offset, FramingErrorKind::MissingChunkCrlf, out);
                    }
                    self.offset += 1;
                    bytes = &bytes[1..];
                    self.state = if seen == 0 {
                        State::ChunkDataEnd { seen: 1 }
                    } else {
                        State::ChunkSize
                    };
                }
                State::Trailers => {
                    let budget =
                        self.limits.max_trailers - self.trailer_bytes.min(self.limits.max_trailers);
                    match self.take_line(&mut bytes, budget) {
                        Line::Partial => {}
                        Line::TooLong => {
                            let limit = self.limits.max_trailers;
                            self.fail(
                                self.line_start,
                                FramingErrorKind::TrailersTooLarge { limit },
                                out,
                            )
                        }
                        Line::Complete(line) => {
                            self.trailer_bytes += line.len();
                            if let Some(content) = self.line_content(&line, out) {
                                if content.is_empty() {
                                    let trailers = std::mem::take(&mut self.trailers);
                                    self.end_response(trailers, out);
                                } else if let Some(field) = self.field(content, out) {
                                    self.trailers.push(field);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The connection closed: completes a close-delimited body, reports a truncated one.
    pub fn finish(&mut self, out: &mut Vec<ResponseItem>) {
        if self.finished {
            return;
        }
        let at = self.offset;
        match self.state {
            State::Head if !self.at_boundary() => {
                let received = self.head_bytes + self.line.len();
                self.fail(at, FramingErrorKind::TruncatedHead { received }, out);
            }
            State::Body { remaining } => {
                let received = self.body_received;
                let expected = received + remaining;
                self.fail(
                    at,
                    FramingErrorKind::TruncatedBody { expected, received },
                    out,
                );
            }
            State::ChunkSize
            | State::ChunkData { .. }
            | State::ChunkDataEnd { .. }
            | State::Trailers => {
                let received = self.body_received;
                self.fail(at, FramingErrorKind::TruncatedChunkedBody { received }, out);
            }
            State::UntilClose => self.end_response(Vec::new(), out),
            State::Head | State::Closed | State::Failed => {}
        }
        self.finished = true;
    }

    fn fail(&mut self, at: u64, kind: FramingErrorKind, out: &mut Vec<ResponseItem>) {
        self.state = State::Failed;
        self.line = Vec::new();
        out.push(ResponseItem::Error(FramingError { at, kind }));
    }

    fn emit_body(&mut self, bytes: &[u8], out: &mut Vec<ResponseItem>) {
        self.offset += bytes.len() as u64;
        self.body_received += bytes.len() as u64;
        if !bytes.is_empty() {
            out.push(ResponseItem::Body(bytes.to_vec()));
        }
    }

    /// Take bytes up to and including the next LF, within `budget` bytes for the line.
    fn take_line(&mut self, bytes: &mut &[u8], budget: usize) -> Line {
        if self.line.is_empty() {
            self.line_start = self.offset;
        }
        let (take, complete) = match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (bytes.len(), false),
        };
        if self.line.len() + take > budget {
            return Line::TooLong;
        }
        self.line.extend_from_slice(&bytes[..take]);
        self.offset += take as u64;
        *bytes = &bytes[take..];
        if complete {
            Line::Complete(std::mem::take(&mut self.line))
        } else {
            Line::Partial
        }
    }

    /// The line without its CRLF, or an error for a bare LF or a stray CR.
    fn line_content<'l>(
        &mut self,
        line: &'l [u8],
        out: &mut Vec<ResponseItem>,
    ) -> Option<&'l [u8]> {
        let lf_at = self.line_start + line.len() as u64 - 1;
        let Some(content) = line.strip_suffix(b"\r\n") else {
            self.fail(lf_at, FramingErrorKind::BareLf, out);
            return None;
        };
        if let Some(i) = content.iter().position(|&b| b == b'\r') {
            self.fail(self.line_start + i as u64, FramingErrorKind::StrayCr, out);
            return None;
        }
        Some(content)
    }

    fn head_line(&mut self, content: &[u8], out: &mut Vec<ResponseItem>) {
        if self.status.is_none() {
            match parse_status_line(content) {
                Ok(status) => self.status = Some(status),
                Err(kind) => self.fail(self.line_start, kind, out),
            }
            return;
        }
        if content.is_empty() {
            return self.end_head(out);
        }
        if matches!(content[0], b' ' | b'\t') {
            let line = evidence(content);
            return self.fail(
                self.line_start,
                FramingErrorKind::ObsoleteLineFolding { line },
                out,
            );
        }
        if self.headers.len() >= self.limits.max_headers {
            let limit = self.limits.max_headers;
            return self.fail(
                self.line_start,
                FramingErrorKind::TooManyHeaders { limit },
                out,
            );
        }
        if let Some(field) = self.field(content, out) {
            self.headers.push(field);
        }
    }

    fn field(&mut self, content: &[u8], out: &mut Vec<ResponseItem>) -> Option<(String, Vec<u8>)> {
        match parse_field(content) {
            Ok(field) => Some(field),
            Err(reason) => {
                let line = evidence(content);
                self.fail(
                    self.line_start,
                    FramingErrorKind::MalformedHeader { line, reason },
                    out,
                );
                None
            }
        }
    }

    fn end_head(&mut self, out: &mut Vec<ResponseItem>) {
        let at = self.head_start;
        let Some((version, status, reason)) = self.status.take() else {
            return;
        };
        let headers = std::mem::take(&mut self.headers);
        self.head_bytes = 0;
        let framing = match body_framing(status, &headers) {
            Ok(framing) => framing,
            Err(kind) => return self.fail(at, kind, out),
        };
        let tokens = |name| list_tokens(&headers, name);
        let connection = tokens("connection");
        let closes = status == 101
            || framing == BodyFraming::UntilClose
            || connection.iter().any(|t| t == "close")
            || (version == HttpVersion::Http10 && !connection.iter().any(|t| t == "keep-alive"));
        let head = ResponseHead {
            version,
            status,
            reason,
            headers,
            framing,
            closes_connection: closes,
        };
        let interim = head.is_interim();
        out.push(ResponseItem::Head(head));
        if interim {
            return; // the final response's head follows
        }
        self.closes = closes;
        self.body_received = 0;
        match framing {
            BodyFraming::None | BodyFraming::ContentLength(0) => self.end_response(Vec::new(), out),
            BodyFraming::ContentLength(n) if n > self.limits.max_body => {
                let limit = self.limits.max_body;
                self.fail(at, FramingErrorKind::BodyTooLarge { limit }, out)
            }
            BodyFraming::ContentLength(n) => self.state = State::Body { remaining: n },
            BodyFraming::Chunked => self.state = State::ChunkSize,
            BodyFraming::UntilClose => self.state = State::UntilClose,
        }
    }

    fn chunk_size_line(&mut self, content: &[u8], out: &mut Vec<ResponseItem>) {
        let Some(size) = parse_chunk_size(content) else {
            let line = evidence(content);
            return self.fail(
                self.line_start,
                FramingErrorKind::InvalidChunkSize { line },
                out,
            );
        };
        if size == 0 {
            self.trailer_bytes = 0;
            self.state = State::Trailers;
        } else if size > self.limits.max_body - self.body_received.min(self.limits.max_body) {
            let limit = self.limits.max_body;
            self.fail(
                self.line_start,
                FramingErrorKind::BodyTooLarge { limit },
                out,
            )
        } else {
            self.state = State::ChunkData { remaining: size };
        }
    }

    fn end_response(&mut self, trailers: Headers, out: &mut Vec<ResponseItem>) {
        out.push(ResponseItem::End { trailers });
        self.state = if self.closes {
            State::Closed
        } else {
            State::Head
        };
    }
}

fn evidence(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(RESPONSE_EVIDENCE_BYTES)].to_vec()
}

fn parse_status_line(line: &[u8]) -> Result<(HttpVersion, u16, Vec<u8>), FramingErrorKind> {
    let malformed = || FramingErrorKind::MalformedStatusLine {
        line: evidence(line),
    };
    let sp = line.iter().position(|&b| b == b' ').ok_or_else(malformed)?;
    let version = match &line[..sp] {
        b"HTTP/1.1" => HttpVersion::Http11,
        b"HTTP/1.0" => HttpVersion::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(FramingErrorKind::UnsupportedVersion {
                version: line[..sp].to_vec(),
            })
        }
        _ => return Err(malformed()),
    };
    // status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]: the second SP is
    // required even when the reason is empty.
    let rest = &line[sp + 1..];
    let (code, reason) = match rest {
        [a, b, c, b' ', reason @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => (
            (*a - b'0') as u16 * 100 + (*b - b'0') as u16 * 10 + (*c - b'0') as u16,
            reason,
        ),
        _ => return Err(malformed()),
    };
    if code < 100 || !reason.iter().all(|&b| is_field_byte(b)) {
        return Err(malformed());
    }
    Ok((version, code, reason.to_vec()))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// VCHAR, obs-text, SP and HTAB: what a field value or reason phrase may hold.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80
}

fn parse_field(line: &[u8]) -> Result<(String, Vec<u8>), &'static str> {
    let colon = line.iter().position(|&b| b == b':').ok_or("no colon")?;
    let name = &line[..colon];
    if name.is_empty() {
        return Err("empty field name");
    }
    if matches!(name.last(), Some(b' ' | b'\t')) {
        return Err("whitespace before the colon");
    }
    if !name.iter().all(|&b| is_tchar(b)) {
        return Err("field name is not a token");
    }
    let value = trim_ows(&line[colon + 1..]);
    if !value.iter().all(|&b| is_field_byte(b)) {
        return Err("control character in the value");
    }
    // A token is ASCII, so this cannot fail.
    let name = String::from_utf8_lossy(name).into_owned();
    Ok((name, value.to_vec()))
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The comma-separated tokens of every field named `name`, lowercased.
fn list_tokens(headers: &Headers, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(trim_ows(t)).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// RFC 9112 §6.3, strictly: ambiguity is an error rather than a guess.
fn body_framing(status: u16, headers: &Headers) -> Result<BodyFraming, FramingErrorKind> {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(BodyFraming::None);
    }
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if has("transfer-encoding") {
        if has("content-length") {
            return Err(FramingErrorKind::ContentLengthWithTransferEncoding);
        }
        let codings = list_tokens(headers, "transfer-encoding");
        let chunked = codings.iter().filter(|c| *c == "chunked").count();
        if chunked > 1 {
            return Err(FramingErrorKind::ChunkedTwice);
        }
        // Chunked anywhere but last: the body runs until the server closes.
        return Ok(if codings.last().map(String::as_str) == Some("chunked") {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        });
    }
    let mut length: Option<u64> = None;
    let mut values = Vec::new();
    for (_, value) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        values.push(value.clone());
        for element in value.split(|&b| b == b',') {
            let element = trim_ows(element);
            let parsed =
                parse_decimal(element).ok_or_else(|| FramingErrorKind::InvalidContentLength {
                    value: evidence(value),
                })?;
            match length {
                Some(l) if l != parsed => {
                    return Err(FramingErrorKind::ConflictingContentLength { values })
                }
                _ => length = Some(parsed),
            }
        }
    }
    Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::ContentLength))
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `chunk-size [ chunk-ext ]` where chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] );
/// the extension is checked only for allowed bytes, since it carries no framing.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let size = line[..digits].iter().try_fold(0u64, |acc, &d| {
        let v = (d as char).to_digit(16)? as u64;
        acc.checked_mul(16)?.checked_add(v)
    })?;
    let ext = trim_ows(&line[digits..]);
    if !ext.is_empty() && (ext[0] != b';' || !ext.iter().all(|&b| is_field_byte(b))) {
        return None;
    }
    Some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<ResponseItem> {
        ResponseDecoder::decode_all(ResponseLimits::default(), bytes)
    }

    fn error(bytes: &[u8]) -> FramingError {
        match decode(bytes).pop() {
            Some(ResponseItem::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn head(items: &[ResponseItem]) -> &ResponseHead {
        items
            .iter()
            .find_map(|i| match i {
                ResponseItem::Head(h) if !h.is_interim() => Some(h),
                _ => None,
            })
            .expect("a final head")
    }

    fn body(items: &[ResponseItem]) -> Vec<u8> {
        items
            .iter()
            .flat_map(|i| match i {
                ResponseItem::Body(b) => b.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn content_length_response() {
        let items = decode(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
        let h = head(&items);
        assert_eq!((h.status, &h.reason[..]), (200, &b"OK"[..]));
        assert_eq!(h.header("content-type"), Some(&b"application/json"[..]));
        assert_eq!(h.framing, BodyFraming::ContentLength(2));
        assert_eq!(body(&items), b"{}");
        assert_eq!(items.last(), Some(&ResponseItem::End { trailers: vec![] }));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let items = decode(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA \r\n0123456789\r\n0\r\nX-Checksum: 1\r\n\r\n",
        );
        assert_eq!(body(&items), b"abc0123456789");
        assert_eq!(
            items.last(),
            Some(&ResponseItem::End {
                trailers: vec![("X-Checksum".into(), b"1".to_vec())]
            })
        );
    }

    #[test]
    fn close_delimited_body_ends_at_eof_and_empty_reason_is_allowed() {
        let items = decode(b"HTTP/1.1 200 \r\nConnection: close\r\n\r\nall of it");
        assert_eq!(head(&items).framing, BodyFraming::UntilClose);
        assert_eq!(body(&items), b"all of it");
        assert!(matches!(items.last(), Some(ResponseItem::End { .. })));
    }

    #[test]
    fn interim_then_final_and_pipelined_responses() {
        let items = decode(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        );
        let statuses: Vec<u16> = items
            .iter()
            .filter_map(|i| match i {
                ResponseItem::Head(h) => Some(h.status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, vec![100, 202, 204]);
        assert_eq!(
            items
                .iter()
                .filter(|i| matches!(i, ResponseItem::End { .. }))
                .count(),
            2
        );
    }

    #[test]
    fn bytes_after_a_closing_response_are_an_error() {
        let e = error(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK\r\n");
        assert_eq!(e.kind, FramingErrorKind::DataAfterLastResponse);
        assert_eq!(e.at, 39);
    }

    #[test]
    fn head_errors_are_precise() {
        use FramingErrorKind::*;
        assert_eq!(error(b"HTTP/1.1 200 OK\n\r\n").kind, BareLf);
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"),
            FramingError {
                at: 21,
                kind: StrayCr
            }
        );
        assert!(matches!(
            error(b"HTTP/1.1 200\r\n\r\n").kind,
            MalformedStatusLine { .. }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 2000 OK\r\n\r\n").kind,
            MalformedStatusLine { .. }
        ));
        assert!(matches!(
            error(b"ICY 200 OK\r\n\r\n").kind,
            MalformedStatusLine { .. }
        ));
        assert_eq!(
            error(b"HTTP/2.0 200 OK\r\n\r\n").kind,
            UnsupportedVersion {
                version: b"HTTP/2.0".to_vec()
            }
        );
        let e = error(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n");
        assert_eq!(e.at, 17);
        assert!(matches!(
            e.kind,
            MalformedHeader {
                reason: "field name is not a token",
                ..
            }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n").kind,
            MalformedHeader {
                reason: "whitespace before the colon",
                ..
            }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n").kind,
            MalformedHeader {
                reason: "no colon",
                ..
            }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n").kind,
            MalformedHeader {
                reason: "control character in the value",
                ..
            }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n").kind,
            ObsoleteLineFolding { .. }
        ));
    }

    #[test]
    fn head_bounds() {
        let limits = ResponseLimits {
            max_head: 32,
            max_headers: 1,
            ..ResponseLimits::default()
        };
        let items =
            ResponseDecoder::decode_all(limits, b"HTTP/1.1 200 OK\r\nA: 0123456789012345\r\n\r\n");
        assert!(matches!(
            items[..],
            [ResponseItem::Error(FramingError {
                at: 0,
                kind: FramingErrorKind::HeadTooLarge { limit: 32 }
            })]
        ));
        let items = ResponseDecoder::decode_all(limits, b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n");
        assert!(matches!(
            items[..],
            [ResponseItem::Error(FramingError {
                at: 23,
                kind: FramingErrorKind::TooManyHeaders { limit: 1 }
            })]
        ));
    }

    #[test]
    fn length_errors() {
        use FramingErrorKind::*;
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n").kind,
            InvalidContentLength { .. }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n").kind,
            InvalidContentLength { .. }
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").kind,
            ConflictingContentLength { .. }
        ));
        // Repeating the same length is tolerated.
        let items = decode(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx");
        assert_eq!(body(&items), b"x");
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .kind,
            ContentLengthWithTransferEncoding
        );
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n").kind,
            ChunkedTwice
        );
        let items = decode(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw");
        assert_eq!(head(&items).framing, BodyFraming::UntilClose);
    }

    #[test]
    fn chunk_errors() {
        use FramingErrorKind::*;
        let te = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let with = |tail: &[u8]| [&te[..], tail].concat();
        assert!(matches!(
            error(&with(b"zz\r\n")).kind,
            InvalidChunkSize { .. }
        ));
        assert!(matches!(
            error(&with(b"3 x\r\n")).kind,
            InvalidChunkSize { .. }
        ));
        assert!(matches!(
            error(&with(b"11111111111111111\r\n")).kind,
            InvalidChunkSize { .. }
        ));
        assert_eq!(
            error(&with(b"3\r\nabcd\r\n")),
            FramingError {
                at: te.len() as u64 + 6,
                kind: MissingChunkCrlf
            }
        );
        assert_eq!(error(&with(b"3\nabc\r\n")).kind, BareLf);
        let limits = ResponseLimits {
            max_chunk_line: 8,
            max_trailers: 8,
            max_body: 4,
            ..ResponseLimits::default()
        };
        let items = ResponseDecoder::decode_all(limits, &with(b"3;long-extension\r\n"));
        assert!(matches!(
            items.last(),
            Some(ResponseItem::Error(FramingError {
                kind: ChunkLineTooLong { limit: 8 },
                ..
            }))
        ));
        let items = ResponseDecoder::decode_all(limits, &with(b"0\r\nX-Long: trailer\r\n\r\n"));
        assert!(matches!(
            items.last(),
            Some(ResponseItem::Error(FramingError {
                kind: TrailersTooLarge { limit: 8 },
                ..
            }))
        ));
        let items =
            ResponseDecoder::decode_all(limits, &with(b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"));
        assert!(matches!(
            items.last(),
            Some(ResponseItem::Error(FramingError {
                kind: BodyTooLarge { limit: 4 },
                ..
            }))
        ));
    }

    #[test]
    fn truncation_is_reported_at_eof() {
        use FramingErrorKind::*;
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nContent-Le").kind,
            TruncatedHead { received: 27 }
        );
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").kind,
            TruncatedBody {
                expected: 10,
                received: 3
            }
        );
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n").kind,
            TruncatedChunkedBody { received: 5 }
        );
        // Closing between responses is clean.
        assert!(decode(b"").is_empty());
        assert!(!decode(b"HTTP/1.1 204 No Content\r\n\r\n")
            .iter()
            .any(|i| matches!(i, ResponseItem::Error(_))));
    }

    #[test]
    fn body_larger_than_allowed_is_refused() {
        let limits = ResponseLimits {
            max_body: 4,
            ..ResponseLimits::default()
        };
        let items = ResponseDecoder::decode_all(
            limits,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde",
        );
        assert!(matches!(
            items.last(),
            Some(ResponseItem::Error(FramingError {
                at: 0,
                kind: FramingErrorKind::BodyTooLarge { limit: 4 }
            }))
        ));
        let items = ResponseDecoder::decode_all(limits, b"HTTP/1.1 200 OK\r\n\r\nabcdef");
        assert_eq!(body(&items), b"abcd");
        assert!(matches!(
            items.last(),
            Some(ResponseItem::Error(FramingError { at: 23, .. }))
        ));
    }
}
