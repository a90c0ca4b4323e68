//! Properties checked by the fuzz targets, kept here so that stable `cargo test` can
//! replay every corpus input through exactly the same code (the targets are shims).

use crate::ndjson::{Frame, NdjsonDecoder, EVIDENCE_BYTES};

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
        let max_line = match data {
            [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
            _ => 256,
        };
        let count = data.get(2).copied().unwrap_or(0) as usize;
        let chunks_end = (3 + count).min(data.len());
        let chunks = data.get(3..chunks_end).unwrap_or_default().to_vec();
        let bytes = data.get(chunks_end..).unwrap_or_default().to_vec();
        NdjsonInput {
            max_line,
            chunks,
            bytes,
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

/// Decoding is independent of chunking, never panics, and respects its bounds.
pub fn ndjson_decoder(input: &NdjsonInput) {
    let max_line = usize::from(input.max_line).max(1);
    let whole = NdjsonDecoder::decode_all(max_line, &input.bytes);

    let mut decoder = NdjsonDecoder::new(max_line);
    let mut chunked = Vec::new();
    let mut rest = &input.bytes[..];
    for &len in &input.chunks {
        let take = usize::from(len).min(rest.len());
        decoder.push(&rest[..take], &mut chunked);
        rest = &rest[take..];
    }
    decoder.push(rest, &mut chunked);
    decoder.finish(&mut chunked);

    assert_eq!(whole, chunked, "chunking changed the decoded frames");
    for frame in &whole {
        match frame {
            Frame::Message { raw, .. } => assert!(raw.len() <= max_line),
            Frame::Invalid { raw, .. } => assert!(raw.len() <= EVIDENCE_BYTES.max(max_line)),
        }
    }
}
