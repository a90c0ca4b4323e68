//! Findings: the reproducer file format, confirming a finding in a fresh process,
//! shrinking it, and replaying it.

use super::exec::{KnownHangs, Limits, OpenError, Target};
use super::oracles::{judge, Firing, MemoryLimits};
use super::program::{Program, Step};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const FORMAT: &str = "mcpspec-fuzz-reproducer";
pub const FORMAT_VERSION: u32 = 1;
/// Largest reproducer file `load` reads (the biggest real ones are about 100 KiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most repetitions a file may ask for (minimisation confirms with at most 256).
pub const MAX_REPEAT: u32 = 10_000;

/// Lines of transcript and bytes of stderr kept in a reproducer.
const TRANSCRIPT_LINES: usize = 40;
const STDERR_BYTES: usize = 4096;

/// What the server did when the finding last fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Exit status when the process ended, e.g. `exit code 101`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// Last lines of the wire transcript (`>>` sent, `<<` received, `!!` stderr, `--` events).
    #[serde(default)]
    pub transcript_tail: Vec<String>,
    #[serde(default)]
    pub stderr_tail: String,
}

/// How minimisation went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minimised {
    pub steps_before: usize,
    pub steps_after: usize,
    pub attempts: u32,
    /// Minimisation stopped at its time limit (or the run's `--time`) before it had
    /// tried every shrink.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
}

/// A self-contained reproducer (also the format of corpus seeds, where the finding
/// fields are absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reproducer {
    pub format: String,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The server command (argv) the finding was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Revision requested in `initialize` before the steps run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Whether the steps fired the oracle again in a fresh process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduced: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimised: Option<Minimised>,
    /// Run the steps this many times in one process (state-dependent findings).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: u32,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Reproducer {
    pub fn seed(program: Program) -> Self {
        Reproducer {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            oracle: None,
            signature: None,
            description: None,
            server: None,
            seed: None,
            protocol_version: None,
            reproduced: None,
            minimised: None,
            repeat: program.repeat,
            steps: program.steps,
            observed: None,
        }
    }

    pub fn program(&self) -> Program {
        Program {
            steps: self.steps.clone(),
            repeat: self.repeat.max(1),
        }
    }

    pub fn parse(text: &str) -> Result<Reproducer, String> {
        let r: Reproducer =
            serde_json::from_str(text).map_err(|e| format!("not a reproducer file: {e}"))?;
        if r.format != FORMAT {
            return Err(format!("format is {:?}, expected {FORMAT:?}", r.format));
        }
        if r.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not supported (this mcpspec reads version {FORMAT_VERSION})",
                r.version
            ));
        }
        if r.steps.is_empty() {
            return Err("the file has no steps".into());
        }
        if r.repeat > MAX_REPEAT {
            return Err(format!("repeat {} is more than {MAX_REPEAT}", r.repeat));
        }
        for (i, s) in r.steps.iter().enumerate() {
            s.check().map_err(|e| format!("step {}: {e}", i + 1))?;
        }
        Ok(r)
    }

    pub fn load(path: &Path) -> Result<Reproducer, String> {
        Self::from_file_bytes(&Self::read_bounded(path)?, path)
    }

    /// The file's bytes, refusing files over [`MAX_FILE_BYTES`] without reading them
    /// whole (a reproducer or libFuzzer artifact is never that large).
    pub fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "{}: larger than {MAX_FILE_BYTES} bytes, not a reproducer",
                path.display()
            ));
        }
        Ok(bytes)
    }

    /// A reproducer from the bytes of the file at `path` (named in errors).
    pub fn from_file_bytes(bytes: &[u8], path: &Path) -> Result<Reproducer, String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))?;
        Self::parse(text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Write to `dir/<oracle>-<hash>.json`; returns the path.
    pub fn save(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let oracle = self.oracle.as_deref().unwrap_or("seed");
        let hash = short_hash_of(&format!(
            "{}\n{}",
            self.signature.as_deref().unwrap_or_default(),
            serde_json::to_string(&self.steps).unwrap_or_default()
        ));
        let path = dir.join(format!("{oracle}-{hash}.json"));
        std::fs::write(&path, self.to_json())?;
        Ok(path)
    }
}

/// First 8 hex digits of the SHA-256 of `text`.
pub fn short_hash_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

pub fn short_hash(program: &Program) -> String {
    short_hash_of(&serde_json::to_string(&program.steps).unwrap_or_default())
}

/// One run of a program in a fresh process.
#[derive(Debug, Clone)]
pub struct FreshRun {
    /// Every firing over all repetitions, first occurrence of each signature.
    pub firings: Vec<Firing>,
    pub observed: Observed,
}

impl FreshRun {
    pub fn fired(&self, oracle: &str) -> Option<&Firing> {
        self.firings.iter().find(|f| f.oracle == oracle)
    }
}

/// Spawn, handshake, run the program `repeat` times (stopping once `stop_on` fires
/// or the process is gone), judge, kill.
pub async fn run_fresh(
    target: &Target,
    program: &Program,
    limits: &Limits,
    memory: &MemoryLimits,
    stop_on: Option<&str>,
) -> Result<FreshRun, OpenError> {
    let mut conn = target.open().await?;
    let hangs = KnownHangs::default();
    let mut firings: Vec<Firing> = Vec::new();
    for _ in 0..program.repeat.max(1) {
        let obs = conn.run(program, limits, &hangs).await;
        for f in judge(&obs, &conn.rss, memory) {
            if !firings.iter().any(|g| g.signature == f.signature) {
                firings.push(f);
            }
        }
        if conn.dead || stop_on.is_some_and(|o| firings.iter().any(|f| f.oracle == o)) {
            break;
        }
    }
    let observed = observe(&conn).await;
    conn.kill();
    Ok(FreshRun { firings, observed })
}

async fn observe(conn: &super::exec::Conn) -> Observed {
    let control = &conn.server;
    if control.exit_status().is_some() {
        control.wait_stderr_closed(Duration::from_millis(300)).await;
    }
    Observed {
        exit: control.exit_status().map(|e| e.to_string()),
        transcript_tail: conn.transcript_tail(TRANSCRIPT_LINES),
        stderr_tail: conn.stderr_tail(STDERR_BYTES),
    }
}

/// Shrinks tried, newest first, when the smallest does not fire again at the end.
const MAX_FALLBACKS: usize = 4;

/// Bounds on minimisation.
#[derive(Debug, Clone)]
pub struct MinimiseBudget {
    pub attempts: u32,
    pub time: Duration,
}

impl Default for MinimiseBudget {
    fn default() -> Self {
        MinimiseBudget {
            attempts: 64,
            time: Duration::from_secs(30),
        }
    }
}

/// The outcome of confirming and shrinking a finding.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub program: Program,
    pub reproduced: bool,
    pub attempts: u32,
    /// The budget ran out before every shrink was tried.
    pub cut_short: bool,
    /// The firing and observation of the last run that fired.
    pub last: Option<(Firing, Observed)>,
}

struct Shrinker<'a> {
    target: &'a Target,
    limits: &'a Limits,
    memory: &'a MemoryLimits,
    oracle: &'a str,
    /// When set, a candidate must fire this exact signature, not just the oracle.
    signature: Option<String>,
    budget: MinimiseBudget,
    started: Instant,
    attempts: u32,
    last: Option<(Firing, Observed)>,
    /// The oracle fired with another signature.
    loose_hit: bool,
}

impl Shrinker<'_> {
    fn exhausted(&self) -> bool {
        self.attempts >= self.budget.attempts || self.started.elapsed() >= self.budget.time
    }

    /// Does the candidate still fire the oracle in a fresh process?
    async fn fires(&mut self, candidate: &Program) -> bool {
        if self.exhausted() {
            return false;
        }
        self.fires_unbudgeted(candidate).await
    }

    /// Whether a shrink may be kept: it fires twice in a row, so one lucky race (a
    /// whole message read together with the liveness ping) does not replace a
    /// reliable reproducer with one that rarely replays.
    async fn accepts(&mut self, candidate: &Program) -> bool {
        self.fires(candidate).await && self.fires_unbudgeted(candidate).await
    }

    /// One run of `candidate`, whatever the budget says.
    async fn fires_unbudgeted(&mut self, candidate: &Program) -> bool {
        self.attempts += 1;
        let Ok(run) = run_fresh(
            self.target,
            candidate,
            self.limits,
            self.memory,
            Some(self.oracle),
        )
        .await
        else {
            return false;
        };
        let hit = match &self.signature {
            Some(sig) => run.firings.iter().find(|f| &f.signature == sig),
            None => run.fired(self.oracle),
        };
        match hit {
            Some(f) => {
                self.last = Some((f.clone(), run.observed));
                true
            }
            None => {
                if run.fired(self.oracle).is_some() {
                    self.loose_hit = true;
                }
                false
            }
        }
    }
}

/// Make the first step start its own write, as a first step must.
fn normalise(mut p: Program) -> Program {
    if let Some(first) = p.steps.first_mut() {
        first.coalesce = false;
        first.await_answers = false;
    }
    p
}

/// Confirm a finding in a fresh process (repeating the input when the bug needs
/// accumulated state), then shrink it while the same finding still fires: drop steps,
/// merge pieces, drop delays, coalescing and waits, lower the repeat count.
///
/// "The same" is the same signature when `signature` is given and it fires again as
/// found; otherwise (the signature itself is racy) any firing of the same oracle.
#[allow(clippy::too_many_arguments)]
pub async fn minimise(
    target: &Target,
    program: &Program,
    oracle: &str,
    signature: Option<&str>,
    limits: &Limits,
    memory: &MemoryLimits,
    budget: MinimiseBudget,
    shrink: bool,
) -> Shrunk {
    let mut s = Shrinker {
        target,
        limits,
        memory,
        oracle,
        signature: signature.map(str::to_string),
        budget,
        started: Instant::now(),
        attempts: 0,
        last: None,
        loose_hit: false,
    };
    let mut best = normalise(program.clone());
    // Confirm: as found, twice for races, then repeated for state-dependent bugs.
    let mut confirmed = false;
    for (attempt, repeat) in [1u32, 1, 4, 16, 64, 256].into_iter().enumerate() {
        let candidate = Program {
            repeat: repeat.max(best.repeat),
            ..best.clone()
        };
        // One confirming run is made whatever the budget: a finding found as the
        // run's time ends is still checked in a fresh process.
        let fired = if attempt == 0 {
            s.fires_unbudgeted(&candidate).await
        } else {
            s.fires(&candidate).await
        };
        if fired {
            best = candidate;
            confirmed = true;
            break;
        }
        if s.loose_hit && s.signature.is_some() {
            // The oracle fires, with another signature: judge by the oracle from now on.
            s.signature = None;
            if s.fires(&candidate).await {
                best = candidate;
                confirmed = true;
                break;
            }
        }
        if s.exhausted() {
            break;
        }
    }
    if !confirmed || !shrink {
        return Shrunk {
            program: best,
            reproduced: confirmed,
            attempts: s.attempts,
            cut_short: false,
            last: s.last,
        };
    }
    let confirmed_program = best.clone();
    // Every shrink kept, in order: what to fall back on if the last does not replay.
    let mut kept: Vec<Program> = Vec::new();

    // Drop steps, bigger chunks first.
    let mut chunk = best.steps.len() / 2;
    while chunk >= 1 && !s.exhausted() {
        let mut start = 0;
        while start < best.steps.len() && best.steps.len() > 1 && !s.exhausted() {
            let mut steps = best.steps.clone();
            let end = (start + chunk).min(steps.len());
            steps.drain(start..end);
            if steps.is_empty() {
                start += chunk;
                continue;
            }
            let candidate = normalise(Program {
                steps,
                repeat: best.repeat,
            });
            if s.accepts(&candidate).await {
                best = candidate;
                kept.push(best.clone());
            } else {
                start += chunk;
            }
        }
        chunk /= 2;
    }

    // Simplify the delivery: all at once first, then step by step. The HTTP-only
    // schedules (a truncated body, a dropped SSE answer, a second session) go too when
    // the finding does without them.
    type Edit = fn(&mut Step) -> bool;
    let edits: [Edit; 7] = [
        |st| !std::mem::take(&mut st.split).is_empty(),
        |st| std::mem::take(&mut st.delay_ms) != 0,
        |st| std::mem::take(&mut st.coalesce),
        |st| std::mem::take(&mut st.await_answers),
        |st| std::mem::take(&mut st.truncate).is_some(),
        |st| std::mem::take(&mut st.drop_stream),
        |st| std::mem::take(&mut st.session) != 0,
    ];
    for edit in edits {
        if s.exhausted() {
            break;
        }
        let mut all = best.clone();
        let changed = all.steps.iter_mut().fold(false, |acc, st| edit(st) | acc);
        if !changed {
            continue;
        }
        if s.accepts(&all).await {
            best = all;
            kept.push(best.clone());
            continue;
        }
        for i in 0..best.steps.len() {
            if s.exhausted() {
                break;
            }
            let mut one = best.clone();
            if edit(&mut one.steps[i]) && s.accepts(&one).await {
                best = one;
                kept.push(best.clone());
            }
        }
    }

    // Fewer repetitions.
    while best.repeat > 1 && !s.exhausted() {
        let candidate = Program {
            repeat: best.repeat / 2,
            ..best.clone()
        };
        if s.accepts(&candidate).await {
            best = candidate;
            kept.push(best.clone());
        } else {
            break;
        }
    }
    // A race can still have passed both runs of some shrink. A reproducer must replay:
    // keep the smallest shrink that fires again, walking back through the shrinks
    // kept (a racy one is usually among the last), else the program confirmed before
    // shrinking.
    let cut_short = s.exhausted();
    let mut replays = None;
    for candidate in kept.iter().rev().take(MAX_FALLBACKS) {
        let mut again = false;
        for attempt in 0..3 {
            // Past the budget one try decides.
            if attempt > 0 && s.exhausted() {
                break;
            }
            if s.fires_unbudgeted(candidate).await {
                again = true;
                break;
            }
        }
        if again {
            replays = Some(candidate.clone());
            break;
        }
        if s.exhausted() {
            break;
        }
    }
    best = replays.unwrap_or(confirmed_program);
    Shrunk {
        program: best,
        reproduced: true,
        attempts: s.attempts,
        cut_short,
        last: s.last,
    }
}

/// The result of replaying a reproducer.
#[derive(Debug, Clone)]
pub struct Replay {
    pub tries: u32,
    pub fired: u32,
    /// Description of the wanted oracle's firing, from the last try that fired.
    pub description: Option<String>,
    /// Other oracles that fired on any try.
    pub others: Vec<String>,
}

pub async fn replay(
    target: &Target,
    reproducer: &Reproducer,
    tries: u32,
    limits: &Limits,
    memory: &MemoryLimits,
) -> Result<Replay, OpenError> {
    let program = reproducer.program();
    let wanted = reproducer.oracle.clone();
    let mut out = Replay {
        tries: tries.max(1),
        fired: 0,
        description: None,
        others: Vec::new(),
    };
    for _ in 0..out.tries {
        let run = run_fresh(target, &program, limits, memory, wanted.as_deref()).await?;
        let hit = match &wanted {
            Some(o) => run.fired(o).cloned(),
            None => run.firings.iter().find(|f| !f.is_warning()).cloned(),
        };
        if let Some(f) = hit {
            out.fired += 1;
            out.description = Some(f.description.clone());
        }
        for f in run.firings {
            if Some(f.oracle.to_string()) != wanted && !out.others.contains(&f.signature) {
                out.others.push(f.signature);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reproducer_round_trip_and_validation() {
        let mut r = Reproducer::seed(Program::new(vec![
            Step::json(json!({"jsonrpc":"2.0","id":"fz-000000001","method":"ping"})),
            Step::raw(b"\xff\n"),
            Step::close(),
        ]));
        r.oracle = Some("crash".into());
        r.signature = Some("crash exit-101".into());
        r.repeat = 3;
        let text = r.to_json();
        assert_eq!(Reproducer::parse(&text).unwrap(), r);
        assert!(text.contains("\"base64\""));
        assert!(Reproducer::parse("{}").is_err());
        assert!(Reproducer::parse(
            r#"{"format":"mcpspec-fuzz-reproducer","version":2,"steps":[{"close_stdin":true}]}"#
        )
        .unwrap_err()
        .contains("version 2"));
        assert!(Reproducer::parse(
            r#"{"format":"mcpspec-fuzz-reproducer","version":1,"steps":[{"text":"a","close_stdin":true}]}"#
        )
        .unwrap_err()
        .contains("step 1"));
    }

    #[test]
    fn hashes_are_short_and_stable() {
        assert_eq!(short_hash_of("abc"), "ba7816bf");
        let p = Program::new(vec![Step::close()]);
        assert_eq!(short_hash(&p), short_hash(&p.clone()));
        assert_eq!(short_hash(&p).len(), 8);
    }
}
