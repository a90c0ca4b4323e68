//! Properties checked by the in-process fuzz targets in `fuzz/`. The targets are thin
//! shims over these functions, so stable `cargo test` replays every corpus input
//! through exactly the same code.

use crate::fixture::server::FixtureServer;
use crate::traffic::Inbound;
use serde_json::Value;

/// Lines of one fixture session input that are executed (keeps each run short).
const MAX_SESSION_LINES: usize = 64;

/// Classifying any JSON value as a JSON-RPC message never panics, and an accepted
/// message re-serialises and re-parses to the same value and the same class.
pub fn jsonrpc_message(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let class = Inbound::classify(value.clone(), data.len());
    assert_eq!(
        class.value(),
        Some(&value),
        "classification must keep the value"
    );
    let text = serde_json::to_string(&value).expect("a parsed value serialises");
    let again: Value = serde_json::from_str(&text).expect("serialised JSON parses again");
    assert_eq!(again, value, "JSON round trip changed the value");
    assert_eq!(
        std::mem::discriminant(&Inbound::classify(again, text.len())),
        std::mem::discriminant(&class),
        "round trip changed the message class"
    );
}

/// Driving the clean fixture with any sequence of lines never panics, and every message
/// it writes is a well-formed JSON-RPC message: the fixture is the reference the cases
/// are proven against, so it must stay correct on any input.
pub fn fixture_session(data: &[u8]) {
    let mut server = FixtureServer::new(None);
    for line in data.split(|b| *b == b'\n').take(MAX_SESSION_LINES) {
        // The `slow` tool sleeps on purpose; it is not what this target explores.
        if line.windows(4).any(|w| w == b"slow") {
            continue;
        }
        let dispatch = server.dispatch_line(line);
        let mut out = dispatch.replies;
        if let Some(work) = dispatch.work {
            work.run(&mut |m| out.push(m));
        }
        for message in &out {
            assert_well_formed(message);
        }
    }
}

fn assert_well_formed(message: &Value) {
    if let Value::Array(batch) = message {
        assert!(!batch.is_empty(), "empty batch response");
        batch.iter().for_each(assert_well_formed);
        return;
    }
    let obj = message.as_object().expect("every message is a JSON object");
    assert_eq!(obj.get("jsonrpc"), Some(&Value::from("2.0")), "{message}");
    if obj.contains_key("method") {
        assert!(obj["method"].is_string(), "{message}");
        return;
    }
    let id = obj.get("id").expect("a response carries an id");
    assert!(
        id.is_null() || id.is_string() || id.is_i64() || id.is_u64(),
        "{message}"
    );
    match (obj.get("result"), obj.get("error")) {
        (Some(result), None) => assert!(result.is_object(), "{message}"),
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "{message}");
            assert!(error["message"].is_string(), "{message}");
        }
        _ => panic!("a response has exactly one of result and error: {message}"),
    }
}
