//! A bounded, timestamped record of every byte exchanged with the peer.
//!
//! Attached to failures so a user sees exactly what went over the wire. When the bound
//! is reached the oldest entries are dropped (and counted), never the newest.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which way bytes went, from the harness's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Harness to server (stdin, request body).
    Sent,
    /// Server to harness on the protocol channel (stdout, response body).
    Received,
    /// Server's diagnostic channel (stderr).
    Diagnostic,
    /// A note from the harness itself (process exited, stdin closed, ...).
    Event,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">>",
            Direction::Received => "<<",
            Direction::Diagnostic => "!!",
            Direction::Event => "--",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at: Duration,
    pub direction: Direction,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
struct Inner {
    started: Instant,
    entries: VecDeque<Entry>,
    bytes: usize,
    limit: usize,
    dropped_entries: usize,
}

/// Cheap to clone: clones share one record.
#[derive(Debug, Clone)]
pub struct Transcript {
    inner: Arc<Mutex<Inner>>,
}

impl Transcript {
    pub fn new(limit_bytes: usize) -> Self {
        Transcript {
            inner: Arc::new(Mutex::new(Inner {
                started: Instant::now(),
                entries: VecDeque::new(),
                bytes: 0,
                limit: limit_bytes,
                dropped_entries: 0,
            })),
        }
    }

    pub fn record(&self, direction: Direction, bytes: &[u8]) {
        let mut inner = lock(&self.inner);
        let at = inner.started.elapsed();
        // A single huge write is kept only as a prefix: the bound holds for every entry.
        let keep = bytes.len().min(inner.limit.max(1));
        let mut stored = bytes[..keep].to_vec();
        if keep < bytes.len() {
            stored.extend_from_slice(format!("…[{} more bytes]", bytes.len() - keep).as_bytes());
        }
        inner.bytes += stored.len();
        inner.entries.push_back(Entry {
            at,
            direction,
            bytes: stored,
        });
        while inner.bytes > inner.limit && inner.entries.len() > 1 {
            if let Some(old) = inner.entries.pop_front() {
                inner.bytes -= old.bytes.len();
                inner.dropped_entries += 1;
            }
        }
    }

    pub fn note(&self, text: &str) {
        self.record(Direction::Event, text.as_bytes());
    }

    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.inner).entries.iter().cloned().collect()
    }

    pub fn dropped_entries(&self) -> usize {
        lock(&self.inner).dropped_entries
    }

    /// The last `n` entries rendered one per line (bytes shown with escapes for
    /// anything not printable, prefixed with the direction), each with its time since
    /// the process started. Times are returned apart so reports can keep their case
    /// records deterministic.
    pub fn tail(&self, n: usize) -> Vec<(Duration, String)> {
        let inner = lock(&self.inner);
        let skip = inner.entries.len().saturating_sub(n);
        inner
            .entries
            .iter()
            .skip(skip)
            .map(|e| {
                (
                    e.at,
                    format!("{} {}", e.direction.arrow(), escape_bytes(&e.bytes, 400)),
                )
            })
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the evidence down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Render bytes for humans: valid UTF-8 stays readable, control and invalid bytes are
/// escaped, and the result is cut at `max_chars`.
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
        if out.chars().count() > max_chars {
            let cut: String = out.chars().take(max_chars).collect();
            return format!("{cut}…");
        }
    }
    out
}

/// A byte buffer that keeps at most `limit` bytes: the first half and the latest half of
/// everything written, with a count of what fell in between.
#[derive(Debug, Clone)]
pub struct BoundedCapture {
    limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl BoundedCapture {
    pub fn new(limit: usize) -> Self {
        BoundedCapture {
            limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = (self.limit / 2).saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(head_room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        let tail_limit = self.limit - self.limit / 2;
        let rest = &rest[rest.len().saturating_sub(tail_limit)..];
        self.tail.extend(rest.iter().copied());
        while self.tail.len() > tail_limit {
            self.tail.pop_front();
        }
    }

    /// Total bytes ever written, including the ones not kept.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes, with a marker where bytes were dropped.
    pub fn contents(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        let kept = (self.head.len() + self.tail.len()) as u64;
        if self.total > kept {
            out.extend_from_slice(
                format!("\n…[{} bytes omitted]…\n", self.total - kept).as_bytes(),
            );
        }
        out.extend(self.tail.iter().copied());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_keeps_newest_entries_within_bound() {
        let t = Transcript::new(10);
        t.record(Direction::Sent, b"aaaa");
        t.record(Direction::Received, b"bbbb");
        t.record(Direction::Received, b"cccc");
        let entries = t.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].bytes, b"cccc");
        assert_eq!(t.dropped_entries(), 1);
    }

    #[test]
    fn escape_shows_invalid_bytes_and_controls() {
        assert_eq!(escape_bytes(b"a\n\xFFb\x01", 100), "a\\n\\xFFb\\u{1}");
        assert_eq!(escape_bytes("ü🦀".as_bytes(), 100), "ü🦀");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc…");
    }

    #[test]
    fn capture_keeps_head_and_tail() {
        let mut c = BoundedCapture::new(8);
        c.push(b"0123456789abcdef");
        assert_eq!(c.total(), 16);
        let s = String::from_utf8(c.contents()).unwrap();
        assert!(s.starts_with("0123"));
        assert!(s.ends_with("cdef"));
        assert!(s.contains("8 bytes omitted"));
    }
}
