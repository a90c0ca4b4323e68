//! Feedback from outside the server and the working corpus.
//!
//! An input's signature is the set of features its run showed: response shapes (key
//! sets of results, error codes) per method, notification and server-request kinds,
//! frame errors, process events. An input whose signature holds a feature never
//! seen before joins the corpus.
//!
//! Feedback holds no fact that depends on timing, so that a seeded run keeps the same
//! corpus on a loaded machine: no latencies, nothing a probe race or a ping's patience
//! decided, no answer that may have arrived while another input ran (late answers,
//! answers with id null), no request left unanswered by the time the input ended, no
//! stderr (its reader runs on its own thread, so which input it lands in is a race).
//! The oracles still judge all of these; they only do not steer the corpus.

use super::exec::{Observation, Ping};
use super::finding::Reproducer;
use super::program::Program;
use crate::traffic::Inbound;
use rand::{Rng, RngExt};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Corpus entries kept in memory; past this, a random older entry is replaced.
pub const MAX_ENTRIES: usize = 2000;

/// Seeds shipped in the repository (`corpus/fuzz-stdio/`), compiled in so the binary
/// has them wherever it runs. A unit test checks the list matches the folder.
pub const BUILTIN_SEEDS: &[(&str, &str)] = &[
    (
        "cancel-unknown-request.json",
        include_str!("../../../corpus/fuzz-stdio/cancel-unknown-request.json"),
    ),
    (
        "deep-nesting.json",
        include_str!("../../../corpus/fuzz-stdio/deep-nesting.json"),
    ),
    (
        "invalid-json-line-then-ping.json",
        include_str!("../../../corpus/fuzz-stdio/invalid-json-line-then-ping.json"),
    ),
    (
        "oversize-line-70k.json",
        include_str!("../../../corpus/fuzz-stdio/oversize-line-70k.json"),
    ),
    (
        "params-as-array.json",
        include_str!("../../../corpus/fuzz-stdio/params-as-array.json"),
    ),
    (
        "ping-split-in-two.json",
        include_str!("../../../corpus/fuzz-stdio/ping-split-in-two.json"),
    ),
    (
        "pipelined-lists-coalesced.json",
        include_str!("../../../corpus/fuzz-stdio/pipelined-lists-coalesced.json"),
    ),
    (
        "utf8-split-inside-character.json",
        include_str!("../../../corpus/fuzz-stdio/utf8-split-inside-character.json"),
    ),
];

fn shape_of_result(v: &Value) -> String {
    match v {
        Value::Object(obj) => {
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort_unstable();
            keys.truncate(12);
            format!("{{{}}}", keys.join(","))
        }
        Value::Array(_) => "array".into(),
        Value::Null => "null".into(),
        _ => "scalar".into(),
    }
}

/// The features of one run of an input.
pub fn features(obs: &Observation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let method_of: HashMap<&str, &str> = obs
        .requests
        .iter()
        .map(|r| (r.key.as_str(), r.info.method.as_str()))
        .collect();
    // Whether a cancelled request is answered is a race the server may win or lose:
    // as a feature it would make the corpus (and a seeded run) depend on timing.
    let cancelled: HashSet<&str> = obs
        .requests
        .iter()
        .filter(|r| r.info.cancelled)
        .map(|r| r.key.as_str())
        .collect();
    for e in &obs.events {
        match e {
            Inbound::Response(v)
                if v.get("id")
                    .is_some_and(|id| cancelled.contains(crate::session::id_key(id).as_str())) => {}
            Inbound::Response(v) => {
                let own = v
                    .get("id")
                    .map(crate::session::id_key)
                    .and_then(|k| method_of.get(k.as_str()).copied());
                let method = match (own, v.get("id")) {
                    (Some(method), _) => method,
                    // An id never sent to this process.
                    (None, Some(id)) if !id.is_null() && obs.unknown_ids.contains(id) => "other",
                    // The liveness ping, a probe's copy (sent or not as a race
                    // decides), a late answer to an earlier input, or an answer
                    // with id null (to a broken line of this input or, when the
                    // server answers out of order, of an earlier one): not
                    // surely this input's feature.
                    _ => continue,
                };
                if let Some(err) = v.get("error") {
                    let code = err
                        .get("code")
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "none".into());
                    out.insert(format!("err {method} {code}"));
                } else if let Some(result) = v.get("result") {
                    out.insert(format!("ok {method} {}", shape_of_result(result)));
                    if let Some(content) = result.get("content").and_then(Value::as_array) {
                        let kinds: BTreeSet<&str> = content
                            .iter()
                            .filter_map(|c| c.get("type").and_then(Value::as_str))
                            .collect();
                        let is_error = result.get("isError") == Some(&Value::Bool(true));
                        out.insert(format!("content {method} {kinds:?} error={is_error}"));
                    }
                } else {
                    out.insert(format!("odd-response {method}"));
                }
            }
            Inbound::Notification(v) => {
                out.insert(format!(
                    "note {}",
                    v.get("method").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            Inbound::Request(v) => {
                out.insert(format!(
                    "server-request {}",
                    v.get("method").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            Inbound::Unclassifiable(_) => {
                out.insert("unclassifiable".into());
            }
            Inbound::Invalid { error, .. } => {
                let kind = format!("{error:?}");
                let kind = kind.split([' ', '{', '(']).next().unwrap_or_default();
                out.insert(format!("frame-error {kind}"));
            }
        }
    }
    // How long an answer took, whether a request owed no answer got one before the
    // input ended (a server answering on other threads may answer it later), and
    // whether an unanswered request was lost or hangs (a probe racing the original
    // against a deadline) are timing: the oracles judge them, feedback does not
    // count them.
    match obs.ping {
        // A second ping is sent when the first is slow to come back: on a loaded
        // machine an answered ping may be "first lost" or unanswered.
        Ping::Answered(_) | Ping::FirstLost | Ping::Unanswered => {}
        other => {
            out.insert(format!("ping {other:?}"));
        }
    }
    if let Some(e) = obs.exit {
        out.insert(format!("exit {e}"));
    }
    out
}

/// The features of each input of a batch (`starts`: the first step of each) that
/// its own requests showed: answers to them and how they settled. What cannot be
/// told apart (notifications, broken lines, the process) is left out.
pub fn features_per_input(obs: &Observation, starts: &[usize]) -> Vec<BTreeSet<String>> {
    let input_of = |step: usize| starts.iter().rposition(|&s| s <= step).unwrap_or(0);
    let mut parts: Vec<Observation> = (0..starts.len())
        .map(|_| Observation {
            requests: Vec::new(),
            events: Vec::new(),
            ..obs.clone()
        })
        .collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for r in &obs.requests {
        let i = input_of(r.info.step);
        owner.insert(r.key.as_str(), i);
        if let Some(part) = parts.get_mut(i) {
            part.requests.push(r.clone());
        }
    }
    for e in &obs.events {
        let Inbound::Response(v) = e else { continue };
        let Some(i) = v
            .get("id")
            .map(crate::session::id_key)
            .and_then(|k| owner.get(k.as_str()).copied())
        else {
            continue;
        };
        if let Some(part) = parts.get_mut(i) {
            part.events.push(e.clone());
        }
    }
    parts
        .iter()
        .map(|part| {
            let mut own = features(part);
            // Process-wide features are the batch's, not the input's.
            own.retain(|f| !f.starts_with("ping ") && !f.starts_with("exit "));
            own
        })
        .collect()
}

/// One corpus entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub program: Program,
    pub name: String,
}

/// The in-memory working corpus and the features seen so far.
#[derive(Debug, Default)]
pub struct Corpus {
    pub entries: Vec<Entry>,
    seen: HashSet<String>,
    dir: Option<PathBuf>,
    names: HashSet<String>,
}

impl Corpus {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Corpus {
            dir,
            ..Corpus::default()
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record the features of a run; true when any is new. A new input joins the
    /// corpus (and the corpus folder, when there is one).
    pub fn observe(
        &mut self,
        program: &Program,
        feats: &BTreeSet<String>,
        rng: &mut impl Rng,
    ) -> bool {
        let mut novel = false;
        for f in feats {
            if !self.seen.contains(f) {
                self.seen.insert(f.clone());
                novel = true;
            }
        }
        if novel {
            self.add(program.clone(), rng);
        }
        novel
    }

    pub fn seen(&self, feature: &str) -> bool {
        self.seen.contains(feature)
    }

    /// Would any of these features be new?
    pub fn is_novel(&self, feats: &BTreeSet<String>) -> bool {
        feats.iter().any(|f| !self.seen.contains(f))
    }

    /// Count features as seen without keeping an input (what a batch showed that no
    /// input of it showed alone).
    pub fn mark_seen(&mut self, feats: &BTreeSet<String>) {
        self.seen.extend(feats.iter().cloned());
    }

    pub fn add(&mut self, program: Program, rng: &mut impl Rng) {
        let name = format!("{}.json", super::finding::short_hash(&program));
        if !self.names.insert(name.clone()) {
            return;
        }
        if let Some(dir) = &self.dir {
            let seed = Reproducer::seed(program.clone());
            // A corpus folder that cannot be written is not worth stopping the run.
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join(&name), seed.to_json());
        }
        let entry = Entry { program, name };
        if self.entries.len() >= MAX_ENTRIES {
            let victim = rng.random_range(0..self.entries.len());
            self.entries[victim] = entry;
        } else {
            self.entries.push(entry);
        }
    }

    pub fn pick(&self, rng: &mut impl Rng) -> Option<&Program> {
        if self.entries.is_empty() {
            None
        } else {
            Some(&self.entries[rng.random_range(0..self.entries.len())].program)
        }
    }

    pub fn feature_count(&self) -> usize {
        self.seen.len()
    }
}

/// Load seeds: the built-in ones, then every `*.json` in `dir` (reproducers too).
/// Files that do not parse are reported and skipped.
pub fn load_seeds(dir: Option<&Path>) -> (Vec<(String, Program)>, Vec<String>) {
    let mut seeds = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in BUILTIN_SEEDS {
        match Reproducer::parse(text) {
            Ok(r) => seeds.push((format!("corpus/fuzz-stdio/{name}"), r.program())),
            Err(e) => problems.push(format!("built-in seed {name}: {e}")),
        }
    }
    if let Some(dir) = dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for path in files.into_iter().take(10_000) {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            match Reproducer::parse(&text) {
                Ok(r) => seeds.push((path.display().to_string(), r.program())),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
    }
    (seeds, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_seed_list_matches_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/fuzz-stdio");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.ends_with(".json").then_some(name)
            })
            .collect();
        on_disk.sort();
        let listed: Vec<String> = BUILTIN_SEEDS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(listed, on_disk, "register every seed file in BUILTIN_SEEDS");
        let (seeds, problems) = load_seeds(None);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(seeds.len(), BUILTIN_SEEDS.len());
    }

    /// What the fixture answered, seen once on a quiet machine and once on a loaded
    /// one: the feedback is the same.
    #[test]
    fn feedback_holds_no_timing() {
        use super::super::exec::{RequestOutcome, Settled};
        use super::super::program::RequestInfo;
        use serde_json::json;
        use std::time::Duration;
        let request = |n: u32, settled: Settled| {
            let id = json!(format!("fz-{n:09}"));
            RequestOutcome {
                key: crate::session::id_key(&id),
                info: RequestInfo {
                    step: n as usize,
                    id,
                    method: "tools/call".into(),
                    demanded: true,
                    well_formed: true,
                    oversize: false,
                    cancelled: false,
                    shape: "tools/call".into(),
                    markers: vec![],
                    extra_members: Vec::new(),
                    delivery: "whole",
                },
                settled,
            }
        };
        let answer = |n: u32| {
            Inbound::Response(
                json!({"jsonrpc": "2.0", "id": format!("fz-{n:09}"), "result": {"content": []}}),
            )
        };
        let quiet = Observation {
            requests: vec![
                request(1, Settled::Answered(Duration::from_millis(1))),
                request(2, Settled::Answered(Duration::from_millis(2))),
            ],
            events: vec![answer(1), answer(2)],
            closed_stdin: false,
            exit: None,
            stdout_closed: false,
            ping: Ping::Answered(Duration::from_millis(1)),
            write_blocked: false,
            write_failed: false,
            stderr: Vec::new(),
            rss_kb: None,
            elapsed: Duration::from_millis(5),
            messages: 3,
            markers: HashMap::new(),
            duplicates: Vec::new(),
            unknown_ids: Vec::new(),
            http: false,
        };
        let mut loaded = quiet.clone();
        // A slow answer, one settled by a probe race, a slow ping, a late answer to
        // an earlier input and the probe's own answer, stderr read late.
        loaded.requests[0].settled = Settled::Answered(Duration::from_secs(3));
        loaded.requests[1].settled = Settled::Lost {
            probe: Duration::from_millis(1),
        };
        loaded.events.push(answer(0));
        loaded.events.push(Inbound::Response(
            json!({"jsonrpc": "2.0", "id": "fz-900000001", "error": {"code": -32602, "message": "x"}}),
        ));
        loaded.ping = Ping::FirstLost;
        // An answer to a broken line that came late, and the same for a request that
        // owed none (answered in the quiet run, left unanswered in the loaded one).
        loaded.events.push(Inbound::Response(
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "x"}}),
        ));
        loaded.requests.push(request(3, Settled::Optional));
        let mut quiet = quiet;
        let mut answered = request(3, Settled::Answered(Duration::from_millis(1)));
        answered.info.demanded = false;
        quiet.requests.push(answered);
        quiet.events.push(answer(3));
        loaded.stderr = b"warning\n".to_vec();
        assert_eq!(features(&quiet), features(&loaded));
        assert!(features(&quiet).contains("ok tools/call {content}"));
        // An answer to an id never sent is the input's feature, whatever the timing.
        let mut stray = quiet.clone();
        stray.events.push(answer(77));
        stray.unknown_ids.push(json!("fz-000000077"));
        assert!(features(&stray).contains("ok other {content}"));
    }

    #[test]
    fn novelty_is_per_feature() {
        let mut corpus = Corpus::new(None);
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
        let p = Program::new(vec![]);
        let f = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(corpus.observe(&p, &f(&["a", "b"]), &mut rng));
        assert!(!corpus.observe(&p, &f(&["b", "a"]), &mut rng));
        let q = Program::new(vec![super::super::program::Step::close()]);
        assert!(corpus.observe(&q, &f(&["a", "c"]), &mut rng));
        assert_eq!(corpus.len(), 2);
        assert_eq!(corpus.feature_count(), 3);
    }
}
