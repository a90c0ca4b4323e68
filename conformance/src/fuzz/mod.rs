//! `mcpspec fuzz`: black-box fuzzing of any MCP server.
//!
//! Inputs are sessions of valid, near-valid and invalid JSON-RPC messages drawn from
//! the server's own surface, each with a delivery schedule (split points, delays,
//! coalesced writes, closed stdin). One server process serves many inputs; oracles
//! judge what is visible from outside; inputs that show new response features join
//! the corpus; findings are confirmed in a fresh process, minimised and saved as
//! reproducer files that `mcpspec replay` runs again.
//!
//! Layout: [`input`] generates and mutates, [`program`] is the concrete input format,
//! [`exec`] runs inputs, [`oracles`] judges, [`corpus`] keeps feedback, [`finding`]
//! confirms, shrinks, saves and replays, [`report`] renders.

pub mod corpus;
pub mod exec;
pub mod finding;
pub mod http_delivery;
pub mod input;
pub mod libfuzzer;
pub mod oracles;
pub mod program;
pub mod report;
pub mod surface;

use corpus::{features, load_seeds, Corpus};
use exec::{profile, Conn, KnownHangs, Limits, OpenError, Target};
use finding::{minimise, MinimiseBudget, Observed, Reproducer};
use oracles::{judge, Firing, MemoryLimits};
use program::{IdAllocator, Program};
use rand::{RngExt, SeedableRng};
use report::{FindingRecord, FuzzReport, Severity, Stats, Subject, Summary, Timings, Tool};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use surface::Surface;

type Rng = rand::rngs::Xoshiro256PlusPlus;

/// Consecutive failed restarts after which a worker gives up.
const MAX_FAILED_STARTS: u32 = 3;

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Option<Duration>,
    pub runs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct FuzzConfig {
    pub target: Target,
    /// The server argv as given (stored in reproducers).
    pub argv: Vec<String>,
    pub limits: Limits,
    pub memory: MemoryLimits,
    pub seed: u64,
    pub jobs: usize,
    pub budget: Budget,
    pub corpus_dir: Option<PathBuf>,
    pub artifacts: PathBuf,
    pub allow_tools: Vec<String>,
    pub minimise: MinimiseBudget,
    /// Shrink findings (confirmation in a fresh process happens either way).
    pub shrink: bool,
    /// Load the seeds shipped in corpus/fuzz-stdio/.
    pub builtin_seeds: bool,
    /// Stop as soon as every one of these oracles has a finding confirmed in a fresh
    /// process (tests, benchmarks): a race seen once must not end the run early.
    pub stop_on: Vec<String>,
}

/// Live counters, readable while the run goes on (for status lines).
#[derive(Debug, Default)]
pub struct LiveStats {
    pub execs: AtomicU64,
    pub messages: AtomicU64,
    pub restarts: AtomicU64,
    pub findings: AtomicUsize,
    pub corpus: AtomicUsize,
    started: Mutex<Option<Instant>>,
}

impl LiveStats {
    pub fn elapsed(&self) -> Duration {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }
}

/// Notifications for the CLI.
pub trait Progress: Send + Sync {
    fn started(&self, _surface: &Surface, _seeds: usize, _problems: &[String]) {}
    fn finding(&self, _finding: &FindingRecord) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error("{0}")]
    Start(#[from] OpenError),
}

struct SharedState {
    /// Every job's corpus entries together (the corpus folder, the statistics).
    corpus: Corpus,
    /// For the shared corpus only: the jobs' own streams must not depend on it.
    rng: Rng,
    /// Signatures reported (each is reported once, by the job that saw it first).
    signatures: HashSet<String>,
    findings: Vec<FindingRecord>,
    first_found: Vec<(String, u64)>,
    /// When a batch first showed a signature that its inputs, run alone, then gave
    /// to one of them: the time it was detected.
    detected_ms: std::collections::HashMap<String, u64>,
}

struct Engine {
    config: FuzzConfig,
    surface: Surface,
    shared: Mutex<SharedState>,
    exchange: Exchange,
    stats: Arc<LiveStats>,
    started: Instant,
    stop: AtomicBool,
    /// MCPSPEC_FUZZ_TRACE=1: one line per input on stderr (for debugging the fuzzer).
    trace: bool,
}

impl Engine {
    fn lock(&self) -> std::sync::MutexGuard<'_, SharedState> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run's `--time` has passed (or `--stop-on` ended it).
    fn time_up(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self
                .config
                .budget
                .time
                .is_some_and(|t| self.started.elapsed() >= t)
    }

    /// Claim one input from a job's share of the budget.
    fn claim(&self, job: &mut Job) -> bool {
        if self.time_up() {
            return false;
        }
        if let Some(left) = job.runs_left.as_mut() {
            if *left == 0 {
                return false;
            }
            *left -= 1;
        }
        job.claimed += 1;
        true
    }
}

/// Inputs a job runs between two corpus exchanges.
const EXCHANGE_EVERY: u64 = 256;

/// Corpus exchange between jobs at fixed points (every [`EXCHANGE_EVERY`] inputs of
/// each job), in job order, so that a run with `--jobs N --runs M --seed S` is the same
/// run every time: no job sees another's entries earlier or later than the round says.
#[derive(Default)]
struct Exchange {
    state: Mutex<ExchangeState>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct ExchangeState {
    /// rounds[r][job]: the entries a job found in round r, once published.
    rounds: Vec<Vec<Option<Vec<Program>>>>,
    done: Vec<bool>,
}

impl Exchange {
    fn lock(&self) -> std::sync::MutexGuard<'_, ExchangeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, jobs: usize, job: usize, round: usize, entries: Vec<Program>) {
        let mut st = self.lock();
        while st.rounds.len() <= round {
            st.rounds.push(vec![None; jobs]);
        }
        st.rounds[round][job] = Some(entries);
        drop(st);
        self.changed.notify_waiters();
    }

    fn finish(&self, jobs: usize, job: usize) {
        let mut st = self.lock();
        st.done.resize(jobs, false);
        st.done[job] = true;
        drop(st);
        self.changed.notify_waiters();
    }

    /// The other jobs' entries of `round`, in job order, once every job published
    /// it or finished.
    async fn collect(&self, jobs: usize, job: usize, round: usize) -> Vec<Program> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.lock();
                let ready = (0..jobs).all(|j| {
                    st.rounds.get(round).is_some_and(|r| r[j].is_some())
                        || st.done.get(j).copied().unwrap_or(false)
                });
                if ready {
                    return (0..jobs)
                        .filter(|&j| j != job)
                        .filter_map(|j| st.rounds.get(round).and_then(|r| r[j].clone()))
                        .flatten()
                        .collect();
                }
            }
            notified.await;
        }
    }
}

/// What one job keeps to itself: its random stream, corpus, seeds, budget share and
/// the signatures it has seen (so that its inputs never depend on other jobs' timing).
struct Job {
    index: usize,
    rng: Rng,
    alloc: IdAllocator,
    corpus: Corpus,
    seeds: VecDeque<Program>,
    signatures: HashSet<String>,
    hangs: KnownHangs,
    runs_left: Option<u64>,
    claimed: u64,
    round: usize,
    /// Entries added since the last exchange.
    fresh: Vec<Program>,
}

impl Job {
    /// Keep an input whose run showed a new feature (here and in the shared corpus).
    fn observe(&mut self, engine: &Engine, program: &Program, feats: &BTreeSet<String>) {
        if engine.trace {
            let new: Vec<&String> = feats.iter().filter(|f| !self.corpus.seen(f)).collect();
            if !new.is_empty() {
                eprintln!(
                    "[trace w{}] input {} keeps {} for {new:?}",
                    self.index,
                    self.claimed,
                    finding::short_hash(program)
                );
            }
        }
        if self.corpus.observe(program, feats, &mut self.rng) {
            self.fresh.push(program.clone());
            // Whatever any job keeps is kept: the union does not depend on which job
            // got there first.
            let mut state = engine.lock();
            let state = &mut *state;
            state.corpus.mark_seen(feats);
            state.corpus.add(program.clone(), &mut state.rng);
            engine
                .stats
                .corpus
                .store(state.corpus.len(), Ordering::Relaxed);
        }
    }
}

/// Run a fuzzing campaign.
pub async fn run(
    config: FuzzConfig,
    stats: Arc<LiveStats>,
    progress: &dyn Progress,
) -> Result<FuzzReport, FuzzError> {
    let started_at_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    // The first process learns the surface and then becomes worker 0's.
    let first = config.target.open().await?;
    let surface = Surface::learn(
        &first.session,
        &first.handshake,
        &config.allow_tools,
        config.limits.timeout,
    )
    .await;
    let corpus_dir = config.corpus_dir.clone();
    let (mut seeds, problems) = load_seeds(corpus_dir.as_deref());
    if !config.builtin_seeds {
        seeds.retain(|(name, _)| !name.starts_with("corpus/fuzz-stdio/"));
    }
    progress.started(&surface, seeds.len(), &problems);
    let seed_count = seeds.len();

    let started = Instant::now();
    *stats.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(started);
    let engine = Arc::new(Engine {
        shared: Mutex::new(SharedState {
            corpus: Corpus::new(corpus_dir),
            rng: Rng::seed_from_u64(config.seed ^ 0x5EED),
            signatures: HashSet::new(),
            findings: Vec::new(),
            first_found: Vec::new(),
            detected_ms: std::collections::HashMap::new(),
        }),
        exchange: Exchange::default(),
        config,
        surface: surface.clone(),
        stats: stats.clone(),
        started,
        stop: AtomicBool::new(false),
        trace: std::env::var_os("MCPSPEC_FUZZ_TRACE").is_some(),
    });

    let jobs = engine.config.jobs.max(1);
    let seeds: Vec<Program> = seeds.into_iter().map(|(_, p)| p).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut first = Some(first);
    for worker in 0..jobs {
        let engine = engine.clone();
        let conn = first.take();
        let job =
            Job {
                index: worker,
                rng: Rng::seed_from_u64(
                    engine
                        .config
                        .seed
                        .wrapping_add((worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                ),
                alloc: IdAllocator::default(),
                corpus: Corpus::new(None),
                // Seeds dealt round-robin; the budget split as evenly as it goes.
                seeds: seeds.iter().skip(worker).step_by(jobs).cloned().collect(),
                signatures: HashSet::new(),
                hangs: KnownHangs::default(),
                runs_left: engine.config.budget.runs.map(|runs| {
                    runs / jobs as u64 + u64::from((worker as u64) < runs % jobs as u64)
                }),
                claimed: 0,
                round: 0,
                fresh: Vec::new(),
            };
        set.spawn(async move {
            work(engine.clone(), job, conn).await;
            engine.exchange.finish(jobs, worker);
        });
    }
    // Findings are reported as they are saved; the progress hook is not Send-bound
    // to the workers, so they queue records that are forwarded here.
    let mut reported = 0;
    loop {
        tokio::select! {
            joined = set.join_next() => {
                if joined.is_none() {
                    break;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let fresh: Vec<FindingRecord> = engine.lock().findings[reported..].to_vec();
        for f in &fresh {
            progress.finding(f);
        }
        reported += fresh.len();
    }
    let fresh: Vec<FindingRecord> = engine.lock().findings[reported..].to_vec();
    for f in &fresh {
        progress.finding(f);
    }

    let duration = started.elapsed();
    if profile::enabled() {
        eprintln!(
            "[profile] {:.0} ms wall, {} job(s)",
            duration.as_secs_f64() * 1e3,
            jobs
        );
        for (phase, ms, times) in profile::totals() {
            eprintln!("[profile] {phase:<16} {ms:>10.0} ms {times:>8}x");
        }
        // CPU per message, ours apart from the servers' (the reaped ones): what a
        // loaded machine does not distort as it does the rates.
        let messages = engine.stats.messages.load(Ordering::Relaxed).max(1) as f64;
        let (ours, servers) = exec::cpu_ms();
        eprintln!(
            "[profile] cpu: mcpspec {ours:.0} ms ({:.1} µs/message), servers {servers:.0} ms ({:.1} µs/message)",
            ours * 1e3 / messages,
            servers * 1e3 / messages
        );
    }
    let state = engine.lock();
    let mut findings = state.findings.clone();
    findings.sort_by(|a, b| (&a.oracle, &a.signature).cmp(&(&b.oracle, &b.signature)));
    let failures = findings
        .iter()
        .filter(|f| f.severity == Severity::Failure)
        .count();
    let execs = stats.execs.load(Ordering::Relaxed);
    let messages = stats.messages.load(Ordering::Relaxed);
    let secs = duration.as_secs_f64().max(1e-3);
    Ok(FuzzReport {
        schema_version: 1,
        tool: Tool {
            name: "mcpspec",
            version: env!("CARGO_PKG_VERSION"),
        },
        subject: Subject {
            transport: if engine.config.target.http.is_some() {
                "streamable-http"
            } else {
                "stdio"
            },
            command: engine.config.target.display(),
            replay_args: engine.config.target.replay_args(),
            protocol_version: surface.protocol_version.clone(),
            server_name: surface.server_name.clone(),
            server_version: surface.server_version.clone(),
        },
        seed: engine.config.seed,
        summary: Summary {
            failures,
            warnings: findings.len() - failures,
        },
        findings,
        stats: Stats {
            execs,
            messages,
            restarts: stats.restarts.load(Ordering::Relaxed),
            corpus_size: state.corpus.len(),
            features: state.corpus.feature_count(),
            seeds: seed_count,
        },
        timings: Timings {
            started_at_unix,
            duration_ms: duration.as_millis() as u64,
            execs_per_sec: execs as f64 / secs,
            messages_per_sec: messages as f64 / secs,
            first_found_ms: state.first_found.iter().cloned().collect(),
        },
    })
}

/// Inputs run back to back with one liveness ping (a batch), and the most steps a
/// batch may hold. A ping per input would cost a round trip per input and idle both
/// sides; a batch in which anything fires or shows a new feature is run again input
/// by input, so findings and corpus entries still belong to one input.
const BATCH_INPUTS: usize = 16;
const BATCH_STEPS: usize = 128;

/// One worker: its own server process, its own RNG stream.
async fn work(engine: Arc<Engine>, job: Job, conn: Option<Conn>) {
    let mut spare = Spare(None);
    if let Some(c) = work_loop(&engine, job, conn, &mut spare).await {
        c.kill();
    }
    spare.discard().await;
}

/// The next server process, started while the current one still serves inputs, so
/// that a restart (every input that closes stdin ends its process) does not wait
/// for a spawn and a handshake. Only over stdio: the process is ours alone.
struct Spare(Option<tokio::task::JoinHandle<Result<Conn, OpenError>>>);

impl Spare {
    fn start(&mut self, engine: &Arc<Engine>) {
        if self.0.is_none() && engine.config.target.http.is_none() {
            let engine = engine.clone();
            self.0 = Some(tokio::spawn(
                async move { engine.config.target.open().await },
            ));
        }
    }

    async fn take(&mut self) -> Option<Result<Conn, OpenError>> {
        let handle = self.0.take()?;
        handle.await.ok()
    }

    /// Kill the spare process (waiting for it to start, so that it is reaped).
    async fn discard(&mut self) {
        if let Some(Ok(c)) = self.take().await {
            c.kill();
        }
    }
}

/// A batch running on one lane's connection, in its own task.
struct InFlight {
    lane: usize,
    batch: Vec<Program>,
    starts: Vec<usize>,
    started: Instant,
    task: tokio::task::JoinHandle<(Conn, exec::Observation)>,
}

/// Connections a worker keeps busy at once. While one lane's server answers a batch,
/// the worker prepares and judges on the other: a lone connection leaves the server
/// idle during our work and us idle during its. Batches are claimed one ahead of
/// their judging, always exactly one, so a seeded run stays the same run.
const LANES: usize = 2;

async fn work_loop(
    engine: &Arc<Engine>,
    mut job: Job,
    conn: Option<Conn>,
    spare: &mut Spare,
) -> Option<Conn> {
    let engine = engine.clone();
    let worker = job.index;
    let jobs = engine.config.jobs.max(1);
    let mut lanes: Vec<Option<Conn>> = (0..LANES).map(|_| None).collect();
    lanes[0] = conn;
    let mut lane = 0;
    // Oldest first; judged in the order claimed.
    let mut inflight: VecDeque<InFlight> = VecDeque::new();
    loop {
        if jobs > 1 && job.claimed >= (job.round as u64 + 1) * EXCHANGE_EVERY {
            // The exchange carries every batch claimed before it, judged.
            settle_all(&engine, &mut job, &mut lanes, &mut inflight, spare).await?;
            let t = Instant::now();
            let entries = std::mem::take(&mut job.fresh);
            engine.exchange.publish(jobs, worker, job.round, entries);
            for program in engine.exchange.collect(jobs, worker, job.round).await {
                job.corpus.add(program, &mut job.rng);
            }
            job.round += 1;
            profile::add("engine.exchange", t);
        }
        let t = Instant::now();
        let batch = claim_batch(&engine, &mut job);
        profile::add("engine.claim", t);
        if batch.is_empty() {
            settle_all(&engine, &mut job, &mut lanes, &mut inflight, spare).await?;
            break;
        }
        if let [program] = batch.as_slice() {
            settle_all(&engine, &mut job, &mut lanes, &mut inflight, spare).await?;
            // No process after repeated failed starts: the worker gives up.
            let mut current = ensure_conn(&engine, lanes[lane].take(), spare).await?;
            engine.stats.execs.fetch_add(1, Ordering::Relaxed);
            run_single(&engine, &mut job, &mut current, program).await;
            lanes[lane] = Some(current);
            continue;
        }
        let Some(mut current) = ensure_conn(&engine, lanes[lane].take(), spare).await else {
            settle_all(&engine, &mut job, &mut lanes, &mut inflight, spare).await;
            return None;
        };
        let (joined, starts) = Program::concat(&batch);
        let task = {
            let starts = starts.clone();
            let limits = engine.config.limits.clone();
            let hangs = job.hangs.clone();
            tokio::spawn(async move {
                let obs = current
                    .run_batch_owned(joined, &starts, &limits, &hangs)
                    .await;
                (current, obs)
            })
        };
        inflight.push_back(InFlight {
            lane,
            batch,
            starts,
            started: Instant::now(),
            task,
        });
        lane = (lane + 1) % lanes.len();
        // Every lane busy: judge the oldest batch, which frees the next lane in turn.
        if inflight.len() == lanes.len() {
            if let Some(oldest) = inflight.pop_front() {
                settle(&engine, &mut job, &mut lanes, oldest, spare).await?;
            }
        }
    }
    // One connection goes back to the caller to be killed; the others end here.
    let mut kept = None;
    for c in lanes.into_iter().flatten() {
        match kept {
            None => kept = Some(c),
            Some(_) => c.kill(),
        }
    }
    kept
}

/// Judge every batch in flight, oldest first.
async fn settle_all(
    engine: &Arc<Engine>,
    job: &mut Job,
    lanes: &mut [Option<Conn>],
    inflight: &mut VecDeque<InFlight>,
    spare: &mut Spare,
) -> Option<()> {
    while let Some(flight) = inflight.pop_front() {
        settle(engine, job, lanes, flight, spare).await?;
    }
    Some(())
}

/// Wait for a batch in flight and judge it: its connection goes back to its lane.
/// `None` when the batch's task died or its inputs needed a process that would not
/// start.
async fn settle(
    engine: &Arc<Engine>,
    job: &mut Job,
    lanes: &mut [Option<Conn>],
    flight: InFlight,
    spare: &mut Spare,
) -> Option<()> {
    let (current, obs) = flight.task.await.ok()?;
    profile::add("engine.batch", flight.started);
    let after = judge_batch(
        engine,
        job,
        current,
        &flight.batch,
        &flight.starts,
        obs,
        spare,
    )
    .await;
    lanes[flight.lane] = Some(after?);
    Some(())
}

/// Judge a batch's observation; when something fired or showed that no single input
/// explains, run its inputs again one by one.
#[allow(clippy::too_many_arguments)]
async fn judge_batch(
    engine: &Arc<Engine>,
    job: &mut Job,
    current: Conn,
    batch: &[Program],
    starts: &[usize],
    obs: exec::Observation,
    spare: &mut Spare,
) -> Option<Conn> {
    let worker = job.index;
    // The joined program went to the connection; joined again, the same, when needed.
    let joined = || Program::concat(batch).0;
    engine
        .stats
        .execs
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    engine
        .stats
        .messages
        .fetch_add(obs.messages as u64, Ordering::Relaxed);
    if engine.trace {
        trace(engine, worker, &joined(), &obs);
    }
    let t = Instant::now();
    let firings = judge(&obs, &current.rss, &engine.config.memory);
    let feats = features(&obs);
    let mut fresh: Vec<Firing> = Vec::new();
    {
        let mut state = engine.lock();
        let now = engine.started.elapsed().as_millis() as u64;
        for f in firings {
            if !job.signatures.contains(&f.signature)
                && !fresh.iter().any(|g| g.signature == f.signature)
            {
                state.detected_ms.entry(f.signature.clone()).or_insert(now);
                fresh.push(f);
            }
        }
    }
    let mut novel = job.corpus.is_novel(&feats);
    if novel && fresh.is_empty() {
        // New features that belong to one input's own requests make that input a
        // corpus entry without running it again; only features of the batch as a
        // whole (notifications, broken lines, the process) need the inputs alone.
        let per_input = corpus::features_per_input(&obs, starts);
        let unexplained = feats
            .iter()
            .any(|f| !job.corpus.seen(f) && !per_input.iter().any(|own| own.contains(f)));
        if !unexplained {
            for (program, own) in batch.iter().zip(&per_input) {
                job.observe(engine, program, own);
            }
            job.corpus.mark_seen(&feats);
            engine.lock().corpus.mark_seen(&feats);
            novel = false;
        }
    }
    profile::add("engine.judge", t);
    if fresh.is_empty() && !novel {
        return Some(current);
    }
    if engine.trace {
        let fired: Vec<&str> = fresh.iter().map(|f| f.signature.as_str()).collect();
        eprintln!(
            "[trace w{worker}] input {}: the batch runs again input by input (fired {fired:?}, unexplained features {novel})",
            job.claimed
        );
    }
    let batch_observed = (!fresh.is_empty()).then(|| observed_of(&current));
    // Attribute: each input again, alone.
    let t = Instant::now();
    let mut slot = Some(current);
    for program in batch {
        let mut c = ensure_conn(engine, slot.take(), spare).await?;
        run_single(engine, job, &mut c, program).await;
        slot = Some(c);
    }
    profile::add("engine.singles", t);
    // What no input showed alone belongs to the batch as a whole.
    for firing in fresh {
        if !job.signatures.insert(firing.signature.clone()) {
            continue;
        }
        let observed = batch_observed.clone().unwrap_or_default();
        record_finding(engine, &joined(), &firing, &observed).await;
    }
    job.corpus.mark_seen(&feats);
    engine.lock().corpus.mark_seen(&feats);
    slot
}

/// Claim up to a batch of inputs from the job's budget. A close ends a batch, and so
/// does the job's next exchange point.
fn claim_batch(engine: &Engine, job: &mut Job) -> Vec<Program> {
    let mut batch = Vec::new();
    // Seeds run alone: each is a known-interesting schedule, and a seed that finds a
    // bug should not wait for the probes of fifteen others.
    if !job.seeds.is_empty() {
        if engine.claim(job) {
            batch.push(next_program(engine, job));
        }
        return batch;
    }
    let mut steps = 0;
    let exchange_at = (job.round as u64 + 1) * EXCHANGE_EVERY;
    while batch.len() < BATCH_INPUTS
        && steps < BATCH_STEPS
        && (engine.config.jobs <= 1 || job.claimed < exchange_at)
        && engine.claim(job)
    {
        let program = next_program(engine, job);
        let closes = program.steps.iter().any(|s| s.close_stdin);
        steps += program.steps.len();
        batch.push(program);
        if closes {
            break;
        }
    }
    batch
}

/// The live connection, or a fresh process when it is gone (`None` after
/// [`MAX_FAILED_STARTS`] failed starts in a row).
async fn ensure_conn(engine: &Arc<Engine>, old: Option<Conn>, spare: &mut Spare) -> Option<Conn> {
    match old {
        Some(c) if !c.dead => return Some(c),
        Some(old) => old.kill(),
        None => {}
    }
    for _ in 0..MAX_FAILED_STARTS {
        let t = Instant::now();
        let opened = match spare.take().await {
            Some(opened) => opened,
            None => engine.config.target.open().await,
        };
        profile::add("engine.restarts", t);
        if let Ok(c) = opened {
            engine.stats.restarts.fetch_add(1, Ordering::Relaxed);
            spare.start(engine);
            return Some(c);
        }
    }
    None
}

fn observed_of(conn: &Conn) -> Observed {
    Observed {
        exit: conn.server.exit_status().map(|e| e.to_string()),
        transcript_tail: conn.transcript_tail(40),
        stderr_tail: conn.stderr_tail(4096),
    }
}

/// Run one input alone, judge it, keep it when it shows something new, report what
/// fired for the first time.
async fn run_single(engine: &Engine, job: &mut Job, current: &mut Conn, program: &Program) {
    let obs = current
        .run(program, &engine.config.limits, &job.hangs)
        .await;
    trace(engine, job.index, program, &obs);
    engine
        .stats
        .messages
        .fetch_add(obs.messages as u64, Ordering::Relaxed);
    let firings = judge(&obs, &current.rss, &engine.config.memory);
    let feats = features(&obs);
    job.observe(engine, program, &feats);
    let fresh: Vec<Firing> = firings
        .into_iter()
        .filter(|f| job.signatures.insert(f.signature.clone()))
        .collect();
    if fresh.is_empty() {
        return;
    }
    let observed = observed_of(current);
    if current.dead {
        current.kill();
    }
    for firing in fresh {
        record_finding(engine, program, &firing, &observed).await;
    }
}

/// Confirm, shrink and save a finding, and stop the run when every `--stop-on`
/// oracle has one.
async fn record_finding(engine: &Engine, program: &Program, firing: &Firing, observed: &Observed) {
    let found_ms = {
        let mut state = engine.lock();
        // Another job reported it already.
        if !state.signatures.insert(firing.signature.clone()) {
            return;
        }
        state
            .detected_ms
            .remove(&firing.signature)
            .unwrap_or_else(|| engine.started.elapsed().as_millis() as u64)
    };
    let t = Instant::now();
    let record = report_finding(engine, program, firing, observed).await;
    profile::add("engine.findings", t);
    let mut state = engine.lock();
    state.first_found.push((record.signature.clone(), found_ms));
    state.findings.push(record);
    let stop_on = &engine.config.stop_on;
    if !stop_on.is_empty()
        && stop_on.iter().all(|o| {
            state
                .findings
                .iter()
                .any(|f| &f.oracle == o && f.reproduced)
        })
    {
        engine.stop.store(true, Ordering::Relaxed);
    }
    engine
        .stats
        .findings
        .store(state.findings.len(), Ordering::Relaxed);
}

/// MCPSPEC_FUZZ_TRACE=1: one line per run on stderr.
fn trace(engine: &Engine, worker: usize, program: &Program, obs: &exec::Observation) {
    if !engine.trace {
        return;
    }
    let steps: Vec<String> = program
        .steps
        .iter()
        .map(|s| {
            format!(
                "{}{}{}{}",
                s.label(),
                if s.split.is_empty() {
                    String::new()
                } else {
                    format!(" /{}", s.split.len() + 1)
                },
                if s.delay_ms == 0 {
                    String::new()
                } else {
                    format!(" +{}ms", s.delay_ms)
                },
                if s.await_answers { " await" } else { "" }
            )
        })
        .collect();
    let settled: Vec<String> = obs
        .requests
        .iter()
        .map(|r| format!("{}={:?}", r.info.method, r.settled))
        .collect();
    eprintln!(
        "[trace w{worker}] {:>6} ms ping {:?} steps [{}] requests [{}]",
        obs.elapsed.as_millis(),
        obs.ping,
        steps.join(", "),
        settled.join(", ")
    );
}

fn next_program(engine: &Engine, job: &mut Job) -> Program {
    if let Some(seed) = job.seeds.pop_front() {
        return seed;
    }
    if !job.corpus.is_empty() && job.rng.random_bool(0.7) {
        let base = job.corpus.pick(&mut job.rng).cloned();
        let other = job.corpus.pick(&mut job.rng);
        if let Some(base) = base {
            return input::mutate_owned(base, other, &mut job.rng, &engine.surface, &mut job.alloc);
        }
    }
    input::generate(&mut job.rng, &engine.surface, &mut job.alloc)
}

/// Confirm, shrink and save one new finding.
async fn report_finding(
    engine: &Engine,
    program: &Program,
    firing: &Firing,
    observed: &Observed,
) -> FindingRecord {
    let config = &engine.config;
    // `--time` bounds the whole run, minimisation included.
    let mut budget = config.minimise.clone();
    if let Some(total) = config.budget.time {
        budget.time = budget
            .time
            .min(total.saturating_sub(engine.started.elapsed()));
    }
    let shrunk = minimise(
        &config.target,
        program,
        firing.oracle,
        Some(&firing.signature),
        &config.limits,
        &config.memory,
        budget,
        config.shrink,
    )
    .await;
    let (description, observed) = match (&shrunk.last, shrunk.reproduced) {
        (Some((f, o)), true) => (f.description.clone(), o.clone()),
        _ => (firing.description.clone(), observed.clone()),
    };
    let before = program.steps.len();
    let reproducer = Reproducer {
        format: finding::FORMAT.into(),
        version: finding::FORMAT_VERSION,
        oracle: Some(firing.oracle.to_string()),
        signature: Some(firing.signature.clone()),
        description: Some(description.clone()),
        server: Some(config.argv.clone()),
        seed: Some(config.seed),
        protocol_version: Some(config.target.revision.clone()),
        reproduced: Some(shrunk.reproduced),
        minimised: Some(finding::Minimised {
            steps_before: before,
            steps_after: shrunk.program.steps.len(),
            attempts: shrunk.attempts,
            cut_short: shrunk.cut_short,
        }),
        repeat: shrunk.program.repeat,
        steps: shrunk.program.steps.clone(),
        observed: Some(observed),
    };
    let path = reproducer.save(&config.artifacts).ok();
    FindingRecord {
        oracle: firing.oracle.to_string(),
        severity: if firing.is_warning() {
            Severity::Warning
        } else {
            Severity::Failure
        },
        signature: firing.signature.clone(),
        description,
        reproducer: path.map(|p| p.display().to_string()),
        reproduced: shrunk.reproduced,
        steps: shrunk.program.steps.len(),
        repeat: shrunk.program.repeat,
        minimisation_cut_short: shrunk.reproduced && shrunk.cut_short,
    }
}

/// The server's own ceiling through the same harness: pipelined pings, `depth` at a
/// time, for `duration`; all `depth` in one write, or (`write_each`) one write each,
/// as the fuzzer's deliveries mostly are.
pub async fn ceiling(
    target: &Target,
    duration: Duration,
    depth: usize,
    write_each: bool,
    timeout: Duration,
) -> Result<Ceiling, OpenError> {
    let (own_before, servers_before) = exec::cpu_ms();
    let conn = target.open().await?;
    let session = conn.session.clone();
    let started = Instant::now();
    let mut messages = 0u64;
    let mut alloc = IdAllocator::default();
    'flood: while started.elapsed() < duration {
        let mut bytes = Vec::new();
        let mut pending = Vec::new();
        for _ in 0..depth.max(1) {
            let id = alloc.fresh_string();
            pending.push(session.expect(&id, "ping"));
            let mut line = serde_json::to_vec(&crate::session::request_message(&id, "ping", None))
                .unwrap_or_default();
            line.push(b'\n');
            if write_each {
                if session.send_raw(&line).await.is_err() {
                    break 'flood;
                }
            } else {
                bytes.extend_from_slice(&line);
            }
        }
        if !write_each && session.send_raw(&bytes).await.is_err() {
            break;
        }
        let mut ok = true;
        for p in pending {
            ok &= p.wait(timeout).await.is_ok();
        }
        if !ok {
            break;
        }
        messages += depth as u64;
    }
    let elapsed = started.elapsed();
    conn.kill();
    // Reaped, the server's CPU time counts among our children's.
    let _ = conn.server.wait_exit(Duration::from_secs(5)).await;
    let (own, servers) = exec::cpu_ms();
    Ok(Ceiling {
        messages,
        elapsed,
        own_cpu_ms: own - own_before,
        server_cpu_ms: servers - servers_before,
    })
}

/// A ceiling measurement.
pub struct Ceiling {
    pub messages: u64,
    pub elapsed: Duration,
    /// CPU time of this process and of the server over the measurement.
    pub own_cpu_ms: f64,
    pub server_cpu_ms: f64,
}

/// Parse durations like `60s`, `2m`, `500ms`, `1h`, `1m30s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if (0.0..1e9).contains(&secs) {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!("{text:?} is not a duration"))
        };
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration; use e.g. 60s, 2m, 500ms, 1h"
            ));
        }
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "ms" => value / 1000.0,
            "s" | "sec" | "secs" => value,
            "m" | "min" | "mins" => value * 60.0,
            "h" => value * 3600.0,
            _ => {
                return Err(format!(
                    "unknown unit {unit:?} in {text:?}; use ms, s, m or h"
                ))
            }
        };
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-3s").is_err());
    }
}
