//! Delivery schedules: how the bytes of one or more messages are cut into writes.
//!
//! Framing bugs only show when bytes arrive in a particular shape (a message in two
//! pieces, a multi-byte character cut in half, three messages in one write), so the
//! harness states that shape explicitly instead of leaving it to buffering.

use std::time::Duration;

/// One write: bytes delivered after waiting `delay_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub delay_before: Duration,
    pub bytes: Vec<u8>,
}

/// An ordered list of writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pieces: Vec<Piece>,
}

impl Delivery {
    /// All bytes in a single write.
    pub fn whole(bytes: impl Into<Vec<u8>>) -> Self {
        Delivery {
            pieces: vec![Piece {
                delay_before: Duration::ZERO,
                bytes: bytes.into(),
            }],
        }
    }

    /// Cut `bytes` at the given offsets (out-of-range and repeated offsets are ignored),
    /// waiting `gap` before every piece but the first. Offsets may fall anywhere,
    /// including inside a multi-byte UTF-8 sequence: that is the point.
    pub fn split_at(bytes: &[u8], offsets: &[usize], gap: Duration) -> Self {
        let mut cuts: Vec<usize> = offsets
            .iter()
            .copied()
            .filter(|&o| o > 0 && o < bytes.len())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = Vec::with_capacity(cuts.len() + 1);
        let mut start = 0;
        for end in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            pieces.push(Piece {
                delay_before: if start == 0 { Duration::ZERO } else { gap },
                bytes: bytes[start..end].to_vec(),
            });
            start = end;
        }
        Delivery { pieces }
    }

    /// One byte per write.
    pub fn byte_by_byte(bytes: &[u8], gap: Duration) -> Self {
        let offsets: Vec<usize> = (1..bytes.len()).collect();
        Self::split_at(bytes, &offsets, gap)
    }

    /// Several messages concatenated into one write.
    pub fn coalesced<I, B>(messages: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut bytes = Vec::new();
        for m in messages {
            bytes.extend_from_slice(m.as_ref());
        }
        Self::whole(bytes)
    }

    /// This schedule followed by `next`, which starts after `gap`.
    pub fn then(mut self, gap: Duration, next: Delivery) -> Self {
        for (i, mut piece) in next.pieces.into_iter().enumerate() {
            if i == 0 {
                piece.delay_before += gap;
            }
            self.pieces.push(piece);
        }
        self
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The bytes the peer receives in total, whatever the cuts.
    pub fn payload(&self) -> Vec<u8> {
        self.pieces
            .iter()
            .flat_map(|p| p.bytes.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_payload_and_cuts_where_asked() {
        let d = Delivery::split_at("aü".as_bytes(), &[2, 0, 9, 2], Duration::from_millis(5));
        let pieces: Vec<&[u8]> = d.pieces().iter().map(|p| &p.bytes[..]).collect();
        assert_eq!(pieces, vec![&b"a\xC3"[..], &b"\xBC"[..]]);
        assert_eq!(d.pieces()[0].delay_before, Duration::ZERO);
        assert_eq!(d.pieces()[1].delay_before, Duration::from_millis(5));
        assert_eq!(d.payload(), "aü".as_bytes());
    }

    #[test]
    fn coalesced_and_then_compose() {
        let d = Delivery::coalesced([b"a\n", b"b\n"]).then(
            Duration::from_millis(1),
            Delivery::byte_by_byte(b"cd", Duration::ZERO),
        );
        assert_eq!(d.pieces().len(), 3);
        assert_eq!(d.payload(), b"a\nb\ncd");
    }
}
