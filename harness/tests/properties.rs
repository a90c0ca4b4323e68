//! Property tests and corpus replay for the harness's byte-level pieces.

use mcpspec_harness::fuzzing::{
    http_response_decoder, ndjson_decoder, sse_decoder, ChunkedInput, NdjsonInput,
};
use mcpspec_harness::{
    Delivery, NdjsonDecoder, ResponseDecoder, ResponseItem, ResponseLimits, SseDecoder, SseEvent,
    SseLimits,
};
use proptest::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

fn json_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}".to_vec()),
        "[a-zé🦀 ]{0,20}".prop_map(|s| serde_json::json!({"text": s}).to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    /// Fuzz inputs survive the trip through their byte form.
    #[test]
    fn fuzz_input_round_trips(max_line: u16, chunks in proptest::collection::vec(any::<u8>(), 0..255), bytes: Vec<u8>) {
        let input = NdjsonInput { max_line, chunks, bytes };
        prop_assert_eq!(NdjsonInput::from_bytes(&input.to_bytes()), input);
    }

    /// Any split of the same bytes yields the same frames.
    #[test]
    fn chunking_never_changes_frames(
        lines in proptest::collection::vec(json_line(), 0..8),
        chunks in proptest::collection::vec(any::<u8>(), 0..16),
        max_line in 1u16..200,
    ) {
        let mut bytes = Vec::new();
        for l in &lines {
            bytes.extend_from_slice(l);
            bytes.push(b'\n');
        }
        ndjson_decoder(&NdjsonInput { max_line, chunks, bytes });
    }

    /// The chaos writer's splitting and coalescing never change the message sequence
    /// the decoder yields.
    #[test]
    fn delivery_schedules_preserve_the_message_sequence(
        texts in proptest::collection::vec("[a-zü🦀]{0,12}", 1..6),
        cuts in proptest::collection::vec(0usize..400, 0..10),
    ) {
        let lines: Vec<Vec<u8>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut l = serde_json::json!({"jsonrpc": "2.0", "id": i, "method": t}).to_string().into_bytes();
                l.push(b'\n');
                l
            })
            .collect();
        let coalesced = Delivery::coalesced(&lines).payload();
        let split = Delivery::split_at(&coalesced, &cuts, Duration::ZERO);
        let mut decoder = NdjsonDecoder::new(1 << 20);
        let mut frames = Vec::new();
        for piece in split.pieces() {
            decoder.push(&piece.bytes, &mut frames);
        }
        decoder.finish(&mut frames);
        let methods: Vec<String> = frames
            .iter()
            .filter_map(|f| f.as_message()?.get("method")?.as_str().map(str::to_string))
            .collect();
        prop_assert_eq!(methods, texts);
    }
}

/// Every seed and regression input of the fuzz target, replayed on stable.
#[test]
fn ndjson_decoder_corpus_replays() {
    replay_corpus("ndjson_decoder", |data| {
        let input = NdjsonInput::from_bytes(data);
        ndjson_decoder(&input);
        // Also byte by byte: the fuzz target only cuts as the input says.
        ndjson_decoder(&NdjsonInput {
            chunks: vec![1],
            ..input
        });
    });
}

/// One generated SSE event and the bytes a server would send for it.
#[derive(Debug, Clone)]
struct GeneratedEvent {
    event_type: Option<String>,
    data_lines: Vec<String>,
    id: Option<String>,
    comment: bool,
}

fn generated_event() -> impl Strategy<Value = GeneratedEvent> {
    (
        proptest::option::of("[a-z]{1,8}"),
        // No CR, LF or NUL inside values; ':' and leading spaces are fine.
        proptest::collection::vec("[ -~éü🦀]{0,16}", 1..4),
        proptest::option::of("[a-z0-9]{1,6}"),
        any::<bool>(),
    )
        .prop_map(|(event_type, data_lines, id, comment)| GeneratedEvent {
            event_type,
            data_lines,
            id,
            comment,
        })
}

fn line_ending() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b"\r\n"[..])]
}

/// A response framed one of the three ways, and its body.
fn http_response() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        proptest::collection::vec(any::<u8>(), 0..200),
        0u8..3,
        proptest::collection::vec(1usize..40, 0..8),
        any::<bool>(),
    )
        .prop_map(|(body, framing, chunk_sizes, interim)| {
            let mut wire = Vec::new();
            if interim {
                wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            match framing {
                0 => {
                    wire.extend_from_slice(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                            .as_bytes(),
                    );
                    wire.extend_from_slice(&body);
                }
                1 => {
                    wire.extend_from_slice(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    );
                    let mut rest = &body[..];
                    let mut sizes = chunk_sizes.iter().cycle();
                    while !rest.is_empty() {
                        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
                        wire.extend_from_slice(format!("{n:X};i=1\r\n").as_bytes());
                        wire.extend_from_slice(&rest[..n]);
                        wire.extend_from_slice(b"\r\n");
                        rest = &rest[n..];
                    }
                    wire.extend_from_slice(b"0\r\nX-Done: 1\r\n\r\n");
                }
                _ => {
                    wire.extend_from_slice(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    wire.extend_from_slice(&body);
                }
            }
            (wire, body)
        })
}

proptest! {
    #[test]
    fn chunked_input_round_trips(bounds: [u16; 2], chunks in proptest::collection::vec(any::<u8>(), 0..255), bytes: Vec<u8>) {
        let input = ChunkedInput { bounds, chunks, bytes };
        prop_assert_eq!(ChunkedInput::from_bytes(&input.to_bytes()), input);
    }

    /// Whatever the line endings and however the stream is cut (a CR and its LF in
    /// different chunks included), the decoder yields exactly the events sent.
    #[test]
    fn sse_events_survive_any_line_endings_and_chunking(
        sent in proptest::collection::vec(generated_event(), 0..6),
        endings in proptest::collection::vec(line_ending(), 1..8),
        bom: bool,
        cuts in proptest::collection::vec(0usize..600, 0..12),
    ) {
        let mut endings = endings.iter().cycle();
        let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        let mut expected = Vec::new();
        let mut last_id = String::new();
        let mut after_cr = false;
        for e in &sent {
            let mut line = |text: &str| {
                let mut ending = endings.next().copied().unwrap_or(b"\n");
                // CR then an empty line ended by LF is one CRLF, not two line endings:
                // a generator writing that would not be writing what it means.
                if after_cr && text.is_empty() && ending == b"\n" {
                    ending = b"\r\n";
                }
                bytes.extend_from_slice(text.as_bytes());
                bytes.extend_from_slice(ending);
                after_cr = ending == b"\r";
            };
            if e.comment {
                line(": keep-alive");
            }
            if let Some(t) = &e.event_type {
                line(&format!("event: {t}"));
            }
            if let Some(id) = &e.id {
                line(&format!("id: {id}"));
                last_id.clone_from(id);
            }
            for d in &e.data_lines {
                line(&format!("data: {d}"));
            }
            line("");
            expected.push(SseEvent {
                event_type: e.event_type.clone().unwrap_or_else(|| "message".into()),
                data: e.data_lines.join("\n"),
                id: e.id.clone(),
                last_event_id: last_id.clone(),
                retry: None,
            });
        }
        let split = Delivery::split_at(&bytes, &cuts, Duration::ZERO);
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut items = Vec::new();
        for piece in split.pieces() {
            decoder.push(&piece.bytes, &mut items);
        }
        decoder.finish(&mut items);
        let events: Vec<SseEvent> = items.iter().filter_map(|i| i.as_event().cloned()).collect();
        prop_assert_eq!(events, expected);
        // Only repeated ids may be reported; nothing else is wrong with these streams.
        prop_assert!(items.iter().all(|i| i.as_event().is_some()
            || matches!(i, mcpspec_harness::SseItem::DuplicateEventId { .. })), "{:?}", items);
    }

    /// Arbitrary bytes and cuts: the fuzz target's properties hold.
    #[test]
    fn sse_decoder_properties_hold_on_arbitrary_bytes(
        bounds in (1u16..64, 1u16..128),
        chunks in proptest::collection::vec(any::<u8>(), 0..16),
        bytes in proptest::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'd'), Just(b'a'),
            Just(b't'), Just(b'i'), Just(0xEF), Just(0xBB), Just(0xBF), any::<u8>(),
        ], 0..300),
    ) {
        sse_decoder(&ChunkedInput { bounds: [bounds.0, bounds.1], chunks, bytes }.to_bytes());
    }

    /// Well-formed responses, however framed and cut, give back their body.
    #[test]
    fn http_responses_decode_to_their_body_under_any_chunking(
        (wire, body) in http_response(),
        cuts in proptest::collection::vec(0usize..400, 0..12),
    ) {
        let split = Delivery::split_at(&wire, &cuts, Duration::ZERO);
        let mut decoder = ResponseDecoder::new(ResponseLimits::default());
        let mut items = Vec::new();
        for piece in split.pieces() {
            decoder.push(&piece.bytes, &mut items);
        }
        decoder.finish(&mut items);
        let decoded: Vec<u8> = items
            .iter()
            .filter_map(|i| match i {
                ResponseItem::Body(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        prop_assert_eq!(decoded, body);
        prop_assert!(matches!(items.last(), Some(ResponseItem::End { .. })), "{:?}", items.last());
        http_response_decoder(&ChunkedInput { bounds: [1024, 1024], chunks: vec![], bytes: wire }.to_bytes());
    }
}

fn replay_corpus(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let replayed = mcpspec_harness::fuzzing::replay_corpus_dir(&dir, check);
    assert!(replayed > 0, "no seeds in {}", dir.display());
}

/// The same SSE or HTTP input delivered one byte at a time.
fn bytewise(data: &[u8]) -> Vec<u8> {
    ChunkedInput {
        chunks: vec![1],
        ..ChunkedInput::from_bytes(data)
    }
    .to_bytes()
}

/// Every seed of the SSE fuzz target, replayed on stable (as cut, and byte-wise).
#[test]
fn sse_decoder_corpus_replays() {
    replay_corpus("sse_decoder", |data| {
        sse_decoder(data);
        sse_decoder(&bytewise(data));
    });
}

/// Every seed of the HTTP response fuzz target, replayed on stable (as cut, and
/// byte-wise).
#[test]
fn http_response_decoder_corpus_replays() {
    replay_corpus("http_response_decoder", |data| {
        http_response_decoder(data);
        http_response_decoder(&bytewise(data));
    });
}

/// A scratch corpus folder for testing the replay helper itself.
fn scratch_corpus(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpspec-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("regressions")).expect("scratch dir");
    for (path, bytes) in files {
        std::fs::write(dir.join(path), bytes).expect("scratch file");
    }
    dir
}

/// A regression input that still breaks its property fails the replay, naming the
/// file; documented regressions and seeds that hold pass; notes are not inputs.
#[test]
fn replay_fails_on_a_regression_input_that_panics() {
    use mcpspec_harness::fuzzing::replay_corpus_dir;
    let property = |data: &[u8]| assert!(!data.starts_with(b"boom"), "crashed");
    let dir = scratch_corpus(
        "panics",
        &[
            ("seed", b"fine"),
            ("regressions/crash-1", b"boom"),
            ("regressions/README.md", b"| `crash-1` | boom crashed |"),
        ],
    );
    let failure = std::panic::catch_unwind(|| replay_corpus_dir(&dir, property))
        .expect_err("a crashing regression input must fail the replay");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("regressions/crash-1"), "{message}");

    std::fs::write(dir.join("regressions/crash-1"), b"fixed now").unwrap();
    assert_eq!(
        replay_corpus_dir(&dir, property),
        2,
        "seed and regression, not the notes"
    );

    std::fs::write(dir.join("regressions/crash-2"), b"undocumented").unwrap();
    let failure = std::panic::catch_unwind(|| replay_corpus_dir(&dir, property))
        .expect_err("an undocumented regression input must fail the replay");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("crash-2"), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
