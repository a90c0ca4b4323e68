//! Every seed and regression input of the in-process fuzz targets, replayed on stable.

use std::path::PathBuf;

fn replay(target: &str, property: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let mut replayed = 0;
    for sub in [dir.clone(), dir.join("regressions")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("readable corpus file");
                property(&data);
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0, "no corpus files in {}", dir.display());
}

#[test]
fn jsonrpc_message_corpus_replays() {
    replay("jsonrpc_message", mcpspec::fuzzing::jsonrpc_message);
}

#[test]
fn fixture_session_corpus_replays() {
    replay("fixture_session", mcpspec::fuzzing::fixture_session);
}
