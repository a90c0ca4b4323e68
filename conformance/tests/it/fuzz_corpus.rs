//! Every seed and regression input of the in-process fuzz targets, replayed on stable.

use std::path::PathBuf;

fn replay(target: &str, property: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let replayed = mcpspec_harness::fuzzing::replay_corpus_dir(&dir, property);
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

#[test]
fn validate_corpus_replays() {
    replay("validate", mcpspec::fuzzing::validate);
}

#[test]
fn reproducer_corpus_replays() {
    replay("reproducer", mcpspec::fuzzing::reproducer);
}

/// The reproducer seeds reach both sides of the loader: every file loads except the
/// ones named `rejected-*`.
#[test]
fn reproducer_seeds_load_unless_named_rejected() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/reproducer");
    for entry in std::fs::read_dir(&dir).expect("corpus/reproducer exists") {
        let path = entry.expect("readable entry").path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = mcpspec::fuzz::finding::Reproducer::load(&path);
        assert_eq!(
            loaded.is_ok(),
            !name.starts_with("rejected-"),
            "{name}: {loaded:?}"
        );
    }
}

/// `replay` reads a bounded file: one byte over the limit is refused unread.
#[test]
fn reproducer_files_over_the_size_bound_are_refused() {
    use mcpspec::fuzz::finding::{Reproducer, MAX_FILE_BYTES};
    let dir = std::env::temp_dir().join(format!("mcpspec-big-repro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.json");
    let seed = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../corpus/reproducer/seed-ping-split-in-two.json"),
    )
    .unwrap();
    let mut padded = seed.clone();
    padded.resize(MAX_FILE_BYTES as usize, b' ');
    std::fs::write(&path, &padded).unwrap();
    assert!(Reproducer::load(&path).is_ok(), "a file at the bound loads");
    padded.push(b' ');
    std::fs::write(&path, &padded).unwrap();
    let refused = Reproducer::load(&path).unwrap_err();
    assert!(refused.contains("larger than"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}
