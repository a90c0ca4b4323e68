//! Properties checked by the fuzz targets, kept here so that stable `cargo test` can
//! replay every corpus input through exactly the same code (the targets are shims).

use crate::http::{ResponseDecoder, ResponseItem, ResponseLimits, RESPONSE_EVIDENCE_BYTES};
use crate::ndjson::{Frame, NdjsonDecoder, EVIDENCE_BYTES};
use crate::sse::{SseDecoder, SseItem, SseLimits, SSE_EVIDENCE_BYTES};
use std::path::{Path, PathBuf};

/// Run `check` on every input of one target's corpus folder: the seeds in `dir` and
/// every crash input in `dir/regressions/` (Markdown notes skipped). Returns how many
/// inputs ran. A failing input panics with its path; a regression input that
/// `regressions/README.md` does not name panics too, since every crash needs its
/// sentence on the bug.
pub fn replay_corpus_dir(dir: &Path, check: impl Fn(&[u8])) -> usize {
    let regressions = dir.join("regressions");
    let mut inputs = files_in(dir);
    let crashes = files_in(&regressions);
    if !crashes.is_empty() {
        let notes = std::fs::read_to_string(regressions.join("README.md")).unwrap_or_default();
        for path in &crashes {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            assert!(
                notes.contains(&format!("`{name}`")),
                "{}: regression input without a line in regressions/README.md",
                path.display()
            );
        }
    }
    inputs.extend(crashes);
    for path in &inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if outcome.is_err() {
            panic!("{}: the property failed on this input", path.display());
        }
    }
    inputs.len()
}

/// Regular files in `dir` except Markdown notes, sorted by name.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"))
        .collect();
    files.sort();
    files
}

/// Bytes from the server plus the chunk boundaries they arrive in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdjsonInput {
    /// Line bound, kept small so oversize paths are exercised.
    pub max_line: u16,
    /// Chunk lengths; the remainder arrives as a last chunk.
    pub chunks: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl NdjsonInput {
    /// Read a fuzz input: a 2-byte big-endian line bound, a count byte, that many chunk
    /// lengths, then the payload. A plain header keeps seed files readable: after
    /// `\x01\x00\x00` comes the server output verbatim.
    pub fn from_bytes(data: &[u8]) -> Self {
        let ([max_line], chunks, bytes) = split_input(data, 256);
        NdjsonInput {
            max_line,
            chunks: chunks.to_vec(),
            bytes: bytes.to_vec(),
        }
    }

    /// The inverse of [`from_bytes`](Self::from_bytes), for writing seeds.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.max_line.to_be_bytes().to_vec();
        let count = self.chunks.len().min(255);
        out.push(count as u8);
        out.extend_from_slice(&self.chunks[..count]);
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// Read the header every framing target shares: `N` 2-byte big-endian bounds (each
/// `default` when the input is too short), a count byte, that many chunk lengths; the
/// rest is the payload. Borrows, so a fuzz run allocates nothing for it.
fn split_input<const N: usize>(data: &[u8], default: u16) -> ([u16; N], &[u8], &[u8]) {
    let mut bounds = [default; N];
    for (i, bound) in bounds.iter_mut().enumerate() {
        if let Some(&[hi, lo]) = data.get(2 * i..2 * i + 2) {
            *bound = u16::from_be_bytes([hi, lo]);
        }
    }
    let count = data.get(2 * N).copied().unwrap_or(0) as usize;
    let chunks_start = (2 * N + 1).min(data.len());
    let chunks_end = (chunks_start + count).min(data.len());
    (bounds, &data[chunks_start..chunks_end], &data[chunks_end..])
}

/// Deliver `bytes` in pieces whose lengths are `chunks` repeated until the bytes run
/// out, then an empty last piece. One length of 1 is byte-by-byte delivery; lengths
/// of 0 are empty pushes; no lengths (or only zeros) deliver the bytes whole.
fn for_each_piece(chunks: &[u8], mut bytes: &[u8], mut deliver: impl FnMut(&[u8])) {
    if chunks.iter().any(|&len| len > 0) {
        for &len in chunks.iter().cycle() {
            if bytes.is_empty() {
                break;
            }
            let (piece, rest) = bytes.split_at(usize::from(len).min(bytes.len()));
            deliver(piece);
            bytes = rest;
        }
    } else {
        chunks.iter().for_each(|_| deliver(&[]));
    }
    deliver(bytes);
}

/// Decoding is independent of chunking, never panics, and respects its bounds.
pub fn ndjson_decoder(input: &NdjsonInput) {
    ndjson_decoder_parts(input.max_line, &input.chunks, &input.bytes);
}

/// [`ndjson_decoder`] on a raw fuzz input, without copying it.
pub fn ndjson_decoder_bytes(data: &[u8]) {
    let ([max_line], chunks, bytes) = split_input(data, 256);
    ndjson_decoder_parts(max_line, chunks, bytes);
}

fn ndjson_decoder_parts(max_line: u16, chunks: &[u8], bytes: &[u8]) {
    let max_line = usize::from(max_line).max(1);
    let whole = NdjsonDecoder::decode_all(max_line, bytes);

    // Without chunk lengths the cut delivery is the whole input again.
    if !chunks.is_empty() {
        let mut decoder = NdjsonDecoder::new(max_line);
        let mut chunked = Vec::with_capacity(whole.len());
        for_each_piece(chunks, bytes, |piece| decoder.push(piece, &mut chunked));
        decoder.finish(&mut chunked);
        assert_eq!(whole, chunked, "chunking changed the decoded frames");
    }
    for frame in &whole {
        match frame {
            Frame::Message { raw, .. } => assert!(raw.len() <= max_line),
            Frame::Invalid { raw, .. } => assert!(raw.len() <= EVIDENCE_BYTES.max(max_line)),
        }
    }
}

/// Input of the SSE and HTTP response targets: two bounds, chunk boundaries, bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedInput {
    /// Two bounds, kept small so the over-limit paths are exercised: line and event
    /// bytes for SSE, head and body bytes for HTTP responses.
    pub bounds: [u16; 2],
    /// Chunk lengths; the remainder arrives as a last chunk.
    pub chunks: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl ChunkedInput {
    /// Read a fuzz input: two 2-byte big-endian bounds, a count byte, that many chunk
    /// lengths, then the payload. Seeds start with `\x01\x00\x04\x00\x00` (bounds
    /// 256 and 1024, no chunks) followed by the stream verbatim.
    pub fn from_bytes(data: &[u8]) -> Self {
        let (bounds, chunks, bytes) = split_input(data, 1024);
        ChunkedInput {
            bounds,
            chunks: chunks.to_vec(),
            bytes: bytes.to_vec(),
        }
    }

    /// The inverse of [`from_bytes`](Self::from_bytes), for writing seeds.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.bounds[0].to_be_bytes().to_vec();
        out.extend_from_slice(&self.bounds[1].to_be_bytes());
        let count = self.chunks.len().min(255);
        out.push(count as u8);
        out.extend_from_slice(&self.chunks[..count]);
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// The SSE decoder never panics, respects its bounds, and yields the same items
/// whether the bytes come whole or cut as the input says (its chunk lengths repeat
/// over the whole stream, so one length of 1 is byte-by-byte delivery).
pub fn sse_decoder(data: &[u8]) {
    let ([max_line, max_event], chunks, bytes) = split_input(data, 1024);
    let limits = SseLimits {
        max_line: usize::from(max_line).max(1),
        max_event: usize::from(max_event).max(1),
        max_remembered_ids: 4096,
    };
    let run = |chunks: &[u8]| {
        let mut decoder = SseDecoder::new(limits);
        let mut items = Vec::new();
        for_each_piece(chunks, bytes, |piece| decoder.push(piece, &mut items));
        decoder.finish(&mut items);
        items
    };
    let whole = run(&[]);
    if !chunks.is_empty() {
        assert_eq!(whole, run(chunks), "chunking changed the SSE items");
    }
    let mut last_line = 0;
    for (i, item) in whole.iter().enumerate() {
        let line = match item {
            SseItem::Event(e) => {
                assert!(e.data.len() <= limits.max_event, "event over its bound");
                None
            }
            SseItem::LineTooLong { line, evidence, .. } => {
                assert!(evidence.len() <= SSE_EVIDENCE_BYTES);
                Some(*line)
            }
            SseItem::UnterminatedEventAtEof { data, .. } => {
                assert_eq!(i, whole.len() - 1, "end-of-stream report is not last");
                assert!(data.len() <= SSE_EVIDENCE_BYTES);
                None
            }
            SseItem::EventTooLarge { line, .. }
            | SseItem::InvalidUtf8 { line, .. }
            | SseItem::DuplicateEventId { line, .. } => Some(*line),
            SseItem::Retry(_) => None,
        };
        if let Some(line) = line {
            assert!(line >= last_line, "problems out of line order");
            last_line = line;
        }
    }
}

/// Consecutive body items merged: how a body is split is the one thing chunking may
/// change.
fn merge_bodies(items: Vec<ResponseItem>) -> Vec<ResponseItem> {
    let mut merged: Vec<ResponseItem> = Vec::with_capacity(items.len());
    for item in items {
        match (merged.last_mut(), item) {
            (Some(ResponseItem::Body(acc)), ResponseItem::Body(more)) => acc.extend(more),
            (_, item) => merged.push(item),
        }
    }
    merged
}

/// The HTTP response parser never panics, respects its bounds, stops at its first
/// error, and yields the same heads, bodies and errors however the bytes are chunked.
pub fn http_response_decoder(data: &[u8]) {
    let ([max_head, max_body], chunks, bytes) = split_input(data, 1024);
    let limits = ResponseLimits {
        max_head: usize::from(max_head).max(1),
        max_headers: 16,
        max_body: u64::from(max_body),
        max_chunk_line: 64,
        max_trailers: 128,
    };
    let run = |chunks: &[u8]| {
        let mut decoder = ResponseDecoder::new(limits);
        let mut items = Vec::new();
        for_each_piece(chunks, bytes, |piece| decoder.push(piece, &mut items));
        decoder.finish(&mut items);
        assert!(
            items
                .iter()
                .all(|i| !matches!(i, ResponseItem::Body(b) if b.is_empty())),
            "empty body item"
        );
        merge_bodies(items)
    };
    let whole = run(&[]);
    if !chunks.is_empty() {
        assert_eq!(whole, run(chunks), "chunking changed the responses");
    }
    let mut in_body = false;
    for (i, item) in whole.iter().enumerate() {
        match item {
            ResponseItem::Head(head) => {
                assert!(!in_body, "a head inside a body");
                assert!(head.headers.len() <= limits.max_headers);
                in_body = !head.is_interim();
            }
            ResponseItem::Body(body) => {
                assert!(in_body, "body bytes outside a response");
                assert!(body.len() as u64 <= limits.max_body, "body over its bound");
            }
            ResponseItem::End { trailers } => {
                assert!(in_body, "end without a head");
                assert!(trailers.len() <= limits.max_trailers);
                in_body = false;
            }
            ResponseItem::Error(e) => {
                assert_eq!(i, whole.len() - 1, "items after an error");
                assert!(e.at <= bytes.len() as u64, "error beyond the input");
                use crate::http::FramingErrorKind::*;
                if let MalformedStatusLine { line }
                | MalformedHeader { line, .. }
                | ObsoleteLineFolding { line }
                | InvalidChunkSize { line } = &e.kind
                {
                    assert!(line.len() <= RESPONSE_EVIDENCE_BYTES);
                }
            }
        }
    }
}
