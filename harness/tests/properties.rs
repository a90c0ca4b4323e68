//! Property tests and corpus replay for the harness's byte-level pieces.

use mcpspec_harness::fuzzing::{ndjson_decoder, NdjsonInput};
use mcpspec_harness::{Delivery, NdjsonDecoder};
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
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/ndjson_decoder");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus/ndjson_decoder exists") {
        let path = entry.expect("readable entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("readable seed");
            ndjson_decoder(&NdjsonInput::from_bytes(&data));
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
