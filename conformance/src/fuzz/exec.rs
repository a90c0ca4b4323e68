//! Running programs against a live server and recording what could be seen from
//! outside: answers and their timing, every line of output, the process status,
//! stderr and memory.
//!
//! The engine is transport-neutral above [`Conn`]: a connection is a [`Session`]
//! (the JSON-RPC client), and only [`Target::open`] knows it is a stdio child process.
//! An HTTP transport would supply its own `open` returning the same kind of session.

use super::http_delivery::HttpRun;
use super::program::{
    collect_markers, id_token, prepare_owned, segments, IdAllocator, Program, RequestInfo, Segment,
    Step, MARKER_CLOSE, MARKER_OPEN, MARKER_SEP,
};
use crate::session::{id_key, RequestError, Session};
use crate::traffic::{Inbound, TrafficLog};
use futures_util::stream::{FuturesUnordered, StreamExt};
use mcpspec_harness::{
    CommandSpec, ExitInfo, ProcessControl, ProcessOptions, ServerProcess, SpawnError, StdinWriter,
};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ids remembered per process (older ones are forgotten, bounding memory).
const ID_BOOK_LIMIT: usize = 200_000;
/// Unanswered requests probed per input (each probe of a hang costs a timeout).
const MAX_PROBES: usize = 2;
/// How long answers may trail the liveness ping before their requests are probed.
const TRAILING_ANSWERS: Duration = Duration::from_millis(200);
/// The longest pause before one write within a batch. A pause makes the server read
/// the pieces on either side of it separately; a pipe reader wakes within
/// microseconds, so one millisecond does that as well as twenty, and a batch of a
/// hundred steps spent half its time asleep in longer ones. An input run alone (to
/// attribute, confirm or replay a finding) keeps its delays as written, and so does
/// one batch in [`FULL_DELAY_BATCHES`], for servers whose bugs need a long pause (a
/// read timeout that takes half a line for a whole one).
const BATCH_DELAY_CAP: Duration = Duration::from_millis(1);
const FULL_DELAY_BATCHES: u64 = 8;

/// MCPSPEC_FUZZ_PROFILE=1: where the wall time of running inputs goes, summed over
/// the run and printed on stderr at its end (for tuning the fuzzer; off by default).
pub mod profile {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::Instant;

    pub const PHASES: &[&str] = &[
        "batch.prepare",
        "batch.prepare.program",
        "batch.writes",
        "batch.delays",
        "batch.pieces",
        "batch.awaits",
        "batch.ping",
        "batch.trailing",
        "batch.probes",
        "batch.finish",
        "engine.batch",
        "engine.claim",
        "engine.judge",
        "engine.singles",
        "engine.findings",
        "engine.restarts",
        "engine.exchange",
    ];
    static NANOS: [AtomicU64; 17] = [const { AtomicU64::new(0) }; 17];
    static COUNTS: [AtomicU64; 17] = [const { AtomicU64::new(0) }; 17];
    static ON: OnceLock<bool> = OnceLock::new();

    pub fn enabled() -> bool {
        *ON.get_or_init(|| std::env::var_os("MCPSPEC_FUZZ_PROFILE").is_some())
    }

    /// Add the time since `since` to `phase` (a name in [`PHASES`]).
    pub fn add(phase: &str, since: Instant) {
        if !enabled() {
            return;
        }
        if let Some(i) = PHASES.iter().position(|p| *p == phase) {
            NANOS[i].fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
            COUNTS[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Add `nanos` to `phase` directly (nominal delays, counts).
    pub fn add_nanos(phase: &str, nanos: u64) {
        if !enabled() {
            return;
        }
        if let Some(i) = PHASES.iter().position(|p| *p == phase) {
            NANOS[i].fetch_add(nanos, Ordering::Relaxed);
            COUNTS[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The sums so far: (phase, milliseconds, times).
    pub fn totals() -> Vec<(&'static str, f64, u64)> {
        PHASES
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    *p,
                    NANOS[i].load(Ordering::Relaxed) as f64 / 1e6,
                    COUNTS[i].load(Ordering::Relaxed),
                )
            })
            .collect()
    }
}

/// How to start the server and talk to it.
#[derive(Debug, Clone)]
pub struct Target {
    pub command: CommandSpec,
    pub process: ProcessOptions,
    /// Protocol revision requested in `initialize`.
    pub revision: String,
    pub init_timeout: Duration,
    /// Over Streamable HTTP instead of stdio.
    pub http: Option<HttpEndpoint>,
}

/// A Streamable HTTP endpoint to fuzz.
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// The endpoint URL; with `start`, `{port}` in it (and in the command's arguments
    /// and environment) becomes a free loopback port, also given as `PORT`.
    pub url: String,
    /// Start [`Target::command`] for every connection (and kill it with the
    /// connection); otherwise the server at `url` runs on its own.
    pub start: bool,
}

/// Deadlines used while running inputs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request unanswered this long (process alive, pings answered) hangs.
    pub timeout: Duration,
    /// A write to the server blocked this long: it stopped reading.
    pub write_timeout: Duration,
    /// How long to wait for the process to end after stdin closed or stdout closed.
    pub exit_grace: Duration,
}

impl Limits {
    pub fn new(timeout: Duration) -> Self {
        Limits {
            timeout,
            write_timeout: timeout,
            exit_grace: Duration::from_secs(2),
        }
    }
}

/// Request shapes known to hang, shared by the workers of a run so that each shape
/// costs one full timeout only.
#[derive(Debug, Clone, Default)]
pub struct KnownHangs(Arc<Mutex<HashSet<String>>>);

impl KnownHangs {
    pub fn contains(&self, shape: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(shape)
    }

    pub fn insert(&self, shape: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shape.to_string());
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Spawn(#[from] SpawnError),
    #[error("the server never answered initialize within {timeout:?}: {detail}{stderr}")]
    NoInitialize {
        timeout: Duration,
        detail: String,
        stderr: String,
    },
    #[error("the server rejected initialize: {0}")]
    Rejected(String),
    #[error("{0}")]
    Http(String),
}

/// What we know about one id in one process.
#[derive(Debug, Clone)]
pub struct IdEntry {
    pub method: String,
    pub sent: u32,
    pub answers: u32,
}

/// Every id sent to one process, with how often it was sent and answered.
#[derive(Debug, Default)]
pub struct IdBook {
    entries: HashMap<String, IdEntry>,
    order: VecDeque<String>,
}

impl IdBook {
    pub fn sent(&mut self, key: &str, method: &str) {
        match self.entries.get_mut(key) {
            Some(e) => e.sent += 1,
            None => {
                self.entries.insert(
                    key.to_string(),
                    IdEntry {
                        method: method.to_string(),
                        sent: 1,
                        answers: 0,
                    },
                );
                self.order.push_back(key.to_string());
                if self.order.len() > ID_BOOK_LIMIT {
                    if let Some(old) = self.order.pop_front() {
                        self.entries.remove(&old);
                    }
                }
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&IdEntry> {
        self.entries.get(key)
    }

    /// Count an answer; returns the entry after counting, or `None` for an unknown id.
    pub fn answered(&mut self, key: &str) -> Option<IdEntry> {
        let e = self.entries.get_mut(key)?;
        e.answers += 1;
        Some(e.clone())
    }
}

/// Resident memory of one process group over the inputs run.
#[derive(Debug, Default)]
pub struct RssHistory {
    /// kB after each run (an input, or a batch of them), newest last (bounded).
    pub samples: VecDeque<u64>,
    /// Inputs in each run, beside `samples` (a sample without one counts one input).
    pub inputs: VecDeque<u64>,
    members: Vec<u32>,
    members_at: Option<Instant>,
}

pub const RSS_HISTORY: usize = 4096;

impl RssHistory {
    fn sample(&mut self, pgid: u32, inputs: u64) -> Option<u64> {
        let stale = self
            .members_at
            .is_none_or(|t| t.elapsed() > Duration::from_secs(2));
        if stale {
            self.members = group_members(pgid);
            self.members_at = Some(Instant::now());
        }
        let mut total = vm_rss_kb(pgid)?;
        for pid in &self.members {
            if *pid != pgid {
                total += vm_rss_kb(*pid).unwrap_or(0);
            }
        }
        self.samples.push_back(total);
        self.inputs.push_back(inputs);
        if self.samples.len() > RSS_HISTORY {
            self.samples.pop_front();
            self.inputs.pop_front();
        }
        Some(total)
    }
}

/// CPU time (user and system, ms) used so far by this process and by its reaped
/// children (the servers that ended).
pub fn cpu_ms() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    let ms = |who| {
        getrusage(who).map_or(0.0, |u| {
            let t = |v: nix::sys::time::TimeVal| v.tv_sec() as f64 * 1e3 + v.tv_usec() as f64 / 1e3;
            t(u.user_time()) + t(u.system_time())
        })
    };
    (ms(UsageWho::RUSAGE_SELF), ms(UsageWho::RUSAGE_CHILDREN))
}

/// `VmRSS` of a process in kB, from /proc/<pid>/status.
pub fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Processes whose process group is `pgid` (the server and anything it started).
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_pgrp(&stat))
                == Some(pgid)
        })
        .take(64)
        .collect()
}

/// The process group field of /proc/<pid>/stat (the name may contain spaces and parens).
pub fn parse_pgrp(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

/// The server process of an HTTP connection that the fuzzer started.
struct StartedServer {
    /// Kept open: some servers exit when stdin closes.
    _stdin: StdinWriter,
    drain: tokio::task::JoinHandle<()>,
}

/// One server process with an initialized session.
pub struct Conn {
    pub session: Session,
    /// The server process (over HTTP without a command: detached, no process).
    pub server: ProcessControl,
    /// Over Streamable HTTP.
    pub http: bool,
    started: Option<StartedServer>,
    pub handshake: Value,
    pub alloc: IdAllocator,
    pub book: IdBook,
    pub rss: RssHistory,
    /// Inputs run on this process.
    pub inputs: u64,
    stderr_seen: u64,
    /// Latencies of recent liveness pings.
    ping_latencies: VecDeque<Duration>,
    /// The process must be replaced before the next input.
    pub dead: bool,
}

impl Target {
    /// For humans: the command, and over HTTP the URL.
    pub fn display(&self) -> String {
        let command = if self.command.program.is_empty() {
            String::new()
        } else {
            self.command.display()
        };
        match (&self.http, command.is_empty()) {
            (Some(h), true) => h.url.clone(),
            (Some(h), false) => format!("{} (started as: {command})", h.url),
            (None, _) => command,
        }
    }

    /// The arguments of `mcpspec replay FILE …` that reach this target again.
    pub fn replay_args(&self) -> String {
        let command = if self.command.program.is_empty() {
            String::new()
        } else {
            format!("-- {}", self.command.display())
        };
        match &self.http {
            Some(h) if command.is_empty() => format!("--url '{}'", h.url.replace('\'', "%27")),
            Some(h) => format!("--url '{}' {command}", h.url.replace('\'', "%27")),
            None => command,
        }
    }

    /// Spawn the server (over HTTP: start it if asked, then connect) and complete the
    /// handshake.
    pub async fn open(&self) -> Result<Conn, OpenError> {
        let (session, server, started) = match &self.http {
            None => {
                let session = Session::spawn(&self.command, &self.process, TrafficLog::new(0))?;
                let control = session.control().clone();
                (session, control, None)
            }
            Some(endpoint) => self.open_http(endpoint).await?,
        };
        let conn = Conn {
            session,
            server,
            http: self.http.is_some(),
            started,
            handshake: Value::Null,
            alloc: IdAllocator::default(),
            book: IdBook::default(),
            rss: RssHistory::default(),
            inputs: 0,
            stderr_seen: 0,
            ping_latencies: VecDeque::new(),
            dead: false,
        };
        self.initialize(conn).await
    }

    async fn open_http(
        &self,
        endpoint: &HttpEndpoint,
    ) -> Result<(Session, ProcessControl, Option<StartedServer>), OpenError> {
        let mut url = endpoint.url.clone();
        let mut started = None;
        let mut server = None;
        if endpoint.start {
            let port = mcpspec_harness::free_loopback_port()
                .map_err(|e| OpenError::Http(format!("no free loopback port: {e}")))?;
            let port_text = port.to_string();
            url = url.replace("{port}", &port_text);
            let mut command = self.command.clone();
            command.args = command
                .args
                .iter()
                .map(|a| a.replace("{port}", &port_text))
                .collect();
            for (_, value) in command.env.iter_mut() {
                *value = value.replace("{port}", &port_text);
            }
            if !command.env.iter().any(|(k, _)| k == "PORT") {
                command.env.push(("PORT".into(), port_text.clone()));
            }
            let process = ServerProcess::spawn(&command, &self.process)?;
            let (control, stdin, mut stdout) = process.split();
            // Nobody reads stdout over HTTP; drain it so the server never blocks.
            let drain = tokio::spawn(async move { while stdout.next_event().await.is_some() {} });
            server = Some(control);
            started = Some(StartedServer {
                _stdin: stdin,
                drain,
            });
        }
        let target = crate::session::HttpTarget::parse(&url).map_err(OpenError::Http)?;
        let deadline = Instant::now() + self.init_timeout;
        let listening = match &server {
            Some(control) => tokio::select! {
                r = mcpspec_harness::wait_until_listening(target.addr, deadline) => r.map(|_| ()).map_err(|e| e.to_string()),
                status = control.wait_exit(self.init_timeout + Duration::from_secs(1)) => Err(format!(
                    "the server exited before listening on {} ({})",
                    target.addr,
                    status.map(|s| s.to_string()).unwrap_or_else(|| "still running".into())
                )),
            },
            None => mcpspec_harness::wait_until_listening(target.addr, deadline)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        let fail = |detail: String| {
            if let Some(control) = &server {
                control.kill();
            }
            if let Some(s) = &started {
                s.drain.abort();
            }
            OpenError::Http(format!("{url}: {detail}"))
        };
        if let Err(e) = listening {
            return Err(fail(e));
        }
        let options = mcpspec_harness::HttpOptions {
            transcript_limit: self.process.transcript_limit,
            ..mcpspec_harness::HttpOptions::default()
        };
        let session = match Session::connect_http(&url, options, TrafficLog::new(0)) {
            Ok(s) => s,
            Err(e) => return Err(fail(e.to_string())),
        };
        let control = server.unwrap_or_else(|| session.control().clone());
        Ok((session, control, started))
    }

    async fn initialize(&self, mut conn: Conn) -> Result<Conn, OpenError> {
        let session = conn.session.clone();
        let capabilities = json!({ "roots": { "listChanged": true } });
        let handshake = session
            .handshake(&self.revision, capabilities, self.init_timeout)
            .await;
        let handshake = match handshake {
            Ok(h) => h,
            Err(e) => {
                conn.kill();
                conn.server.wait_stderr_closed(Duration::from_secs(2)).await;
                let stderr = String::from_utf8_lossy(&conn.server.stderr()).into_owned();
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| format!(" (last stderr line: {})", crate::util::clip(l.trim(), 200)))
                    .unwrap_or_default();
                return Err(OpenError::NoInitialize {
                    timeout: self.init_timeout,
                    detail: e.to_string(),
                    stderr: last,
                });
            }
        };
        let Some(result) = handshake.result().cloned() else {
            conn.kill();
            return Err(OpenError::Rejected(handshake.response.summary()));
        };
        // The handshake's id is the session's own: `method_of` knows it.
        conn.handshake = result;
        conn.stderr_seen = conn.server.stderr_total();
        Ok(conn)
    }
}

/// How the liveness ping after an input went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Answered(Duration),
    /// The first ping was never answered but a second one was.
    FirstLost,
    Unanswered,
    /// stdout closed (or the write failed) before an answer.
    Closed,
    /// Not sent: stdin was closed by the input, or a write had already failed.
    NotSent,
}

/// What became of one request of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    Answered(Duration),
    /// Not required to be answered (malformed, cancelled) and was not.
    Optional,
    /// Unanswered, while the same request sent again alone was answered.
    Lost {
        probe: Duration,
    },
    /// Unanswered, and the same request sent again alone was not answered either.
    Hang,
    /// Unanswered, of a shape already known to hang (not probed again).
    KnownHang,
    /// Could not be judged (the process died, or stopped answering pings).
    Unsettled,
}

#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub info: RequestInfo,
    pub key: String,
    pub settled: Settled,
}

/// Everything observed while one input ran.
#[derive(Debug, Clone)]
pub struct Observation {
    pub requests: Vec<RequestOutcome>,
    /// Server output during the input (and its probes and ping), in order.
    pub events: Vec<Inbound>,
    pub closed_stdin: bool,
    pub exit: Option<ExitInfo>,
    pub stdout_closed: bool,
    pub ping: Ping,
    /// A write blocked past the write timeout: the server stopped reading stdin.
    pub write_blocked: bool,
    /// A write failed (broken pipe).
    pub write_failed: bool,
    /// stderr written during the input.
    pub stderr: Vec<u8>,
    pub rss_kb: Option<u64>,
    pub elapsed: Duration,
    /// Messages written (steps, plus the ping and probes).
    pub messages: usize,
    /// Marker token → payload of every request of this input.
    pub markers: HashMap<String, String>,
    /// Id keys answered more often than they were sent (counted over the process).
    pub duplicates: Vec<(String, String)>,
    /// Responses whose id was never sent to this process.
    pub unknown_ids: Vec<Value>,
    /// Over Streamable HTTP (broken messages came in SSE events or bodies, not lines).
    pub http: bool,
}

impl Observation {
    /// Method of the last request in the input (for descriptions).
    pub fn last_method(&self) -> Option<&str> {
        self.requests.last().map(|r| r.info.method.as_str())
    }
}

impl Conn {
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Run one program (all its repetitions are the caller's business).
    pub async fn run(
        &mut self,
        program: &Program,
        limits: &Limits,
        hangs: &KnownHangs,
    ) -> Observation {
        self.run_batch(program, &[0], limits, hangs).await
    }

    /// Run several inputs joined by [`Program::concat`] (`starts`: the first step of
    /// each), with one liveness ping after the last. An await waits only for the
    /// requests of its own input, as it would have run alone.
    pub async fn run_batch(
        &mut self,
        program: &Program,
        starts: &[usize],
        limits: &Limits,
        hangs: &KnownHangs,
    ) -> Observation {
        self.run_batch_owned(program.clone(), starts, limits, hangs)
            .await
    }

    /// [`Conn::run_batch`] for a program the caller gives up (no copy is made).
    pub async fn run_batch_owned(
        &mut self,
        program: Program,
        starts: &[usize],
        limits: &Limits,
        hangs: &KnownHangs,
    ) -> Observation {
        let t0 = Instant::now();
        let mut prepared = prepare_owned(program, &mut self.alloc);
        profile::add("batch.prepare.program", t0);
        // Over HTTP: the input's second session, if it has steps for one.
        let mut http_run = None;
        if self.http {
            // Every step is its own POST: lines do not run into each other.
            for r in &mut prepared.requests {
                r.demanded = r.well_formed;
            }
            let run = HttpRun::open(
                &self.session,
                &self.handshake,
                &prepared.steps,
                limits.timeout,
            )
            .await;
            http_run = Some(run);
        }
        // Ids sent in the second session are its own: this process's book must not
        // know them (an answer to one here is an answer for another session).
        let second_keys = second_session_keys(&prepared.steps, http_run.as_ref());
        let session = self.session.clone();
        let mark = session.mark();
        let mut messages = 0usize;

        let methods: HashMap<String, &str> = prepared
            .requests
            .iter()
            .map(|r| (id_key(&r.id), r.method.as_str()))
            .collect();
        for key in prepared
            .ids_sent
            .iter()
            .filter(|k| !second_keys.contains(*k))
        {
            self.book
                .sent(key, methods.get(key).copied().unwrap_or_default());
        }
        drop(methods);
        let mut markers = HashMap::new();
        for r in &prepared.requests {
            for (token, payload) in &r.markers {
                markers.insert(token.clone(), payload.clone());
            }
        }

        // One waiter task for the batch reports each answer's time as it arrives.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
        let mut pending = FuturesUnordered::new();
        for (i, r) in prepared.requests.iter().enumerate() {
            let response = match &http_run {
                Some(run) => run
                    .session_for(&session, prepared.steps.get(r.step))
                    .expect(&r.id, &r.method),
                None => session.expect(&r.id, &r.method),
            };
            pending.push(async move { (i, response.wait_unbounded().await) });
        }
        let waiter = {
            let tx = tx.clone();
            let bound = limits.timeout * 4 + limits.write_timeout;
            let http = self.http;
            tokio::spawn(tokio::time::timeout(bound, async move {
                while let Some((i, result)) = pending.next().await {
                    // Over HTTP a refusal (4xx) of the POST is the server's answer too.
                    let answered = match result {
                        Ok(_) => true,
                        Err(RequestError::Refused(_)) => http,
                        Err(_) => false,
                    };
                    if answered {
                        let _ = tx.send((i, Instant::now()));
                    }
                }
            }))
        };
        let n = prepared.requests.len();
        let mut answered: Vec<Option<Instant>> = vec![None; n];
        let mut sent_at: Vec<Option<Instant>> = vec![None; n];
        profile::add("batch.prepare", t0);

        let mut closed_stdin = false;
        let mut write_blocked = false;
        let mut write_failed = false;
        for segment in segments(&prepared.steps) {
            match segment {
                Segment::Write {
                    await_answers,
                    delivery,
                    steps,
                } => {
                    if await_answers {
                        let first = steps.first().copied().unwrap_or_default();
                        let scope = starts
                            .iter()
                            .copied()
                            .filter(|&s| s <= first)
                            .max()
                            .unwrap_or_default();
                        let waiting: Vec<usize> = (0..n)
                            .filter(|&i| {
                                sent_at[i].is_some()
                                    && prepared.requests[i].demanded
                                    && prepared.requests[i].step >= scope
                            })
                            .collect();
                        // An await shapes the pipelining; it judges nothing, so a hung
                        // request must not hold it for a whole timeout.
                        let deadline = Instant::now() + limits.timeout.min(Duration::from_secs(1));
                        let t = Instant::now();
                        wait_answers(&mut rx, &mut answered, &waiting, deadline).await;
                        profile::add("batch.awaits", t);
                    }
                    let delivery =
                        if starts.len() > 1 && !self.inputs.is_multiple_of(FULL_DELAY_BATCHES) {
                            cap_delays(&delivery, BATCH_DELAY_CAP)
                        } else {
                            delivery
                        };
                    let t = Instant::now();
                    let written = if let Some(run) = http_run.as_mut() {
                        let bound = limits.timeout * 4 + limits.write_timeout;
                        tokio::time::timeout(
                            limits.write_timeout,
                            run.post(&session, &prepared.steps, &steps, bound),
                        )
                        .await
                    } else {
                        tokio::time::timeout(limits.write_timeout, session.deliver(&delivery)).await
                    };
                    profile::add("batch.writes", t);
                    if profile::enabled() {
                        for piece in delivery.pieces() {
                            profile::add_nanos(
                                "batch.delays",
                                piece.delay_before.as_nanos() as u64,
                            );
                            profile::add_nanos("batch.pieces", 0);
                        }
                    }
                    match written {
                        Ok(Ok(())) => {}
                        // A POST the server cut short is its business while it lives.
                        Ok(Err(_)) if self.http && self.server_alive() => {}
                        Ok(Err(_)) => {
                            write_failed = true;
                            break;
                        }
                        Err(_) => {
                            write_blocked = true;
                            break;
                        }
                    }
                    messages += steps.len();
                    let now = Instant::now();
                    for (i, r) in prepared.requests.iter().enumerate() {
                        if steps.contains(&r.step) {
                            sent_at[i] = Some(now);
                        }
                    }
                }
                Segment::Close => {
                    session.close_stdin().await;
                    closed_stdin = true;
                    break;
                }
            }
        }

        if let Some(run) = http_run.as_mut() {
            self.settle_http(run, &prepared, &sent_at, &mut rx, &mut answered, limits)
                .await;
            for r in prepared.requests.iter_mut() {
                if run.not_owed(r.step) {
                    r.demanded = false;
                }
            }
        }

        let mut ping = Ping::NotSent;
        let mut settled: Vec<Settled> = vec![Settled::Unsettled; n];
        if !closed_stdin && !write_blocked && !write_failed {
            // An input may end inside a line; end it so the ping stands on its own.
            let unterminated = prepared
                .steps
                .iter()
                .rev()
                .find(|s| !s.close_stdin)
                .is_some_and(|s| !s.ends_line());
            let t = Instant::now();
            let (outcome, sent) = self.liveness(unterminated && !self.http, limits).await;
            profile::add("batch.ping", t);
            let outcome = match outcome {
                // Over HTTP a failed ping is a dead server only when the process ended
                // (or, with no process, the endpoint is unreachable).
                Ping::Closed if self.http && self.http_server_lives(limits).await => {
                    Ping::Unanswered
                }
                other => other,
            };
            messages += sent;
            ping = outcome;
        }
        drain(&mut rx, &mut answered);

        if let Ping::Answered(_) | Ping::FirstLost = ping {
            // Answers produced on other threads (tool calls) may trail the ping: give
            // them a moment before sending copies to probe them.
            let outstanding: Vec<usize> = (0..n)
                .filter(|&i| {
                    let r = &prepared.requests[i];
                    answered[i].is_none()
                        && r.demanded
                        && sent_at[i].is_some()
                        && !hangs.contains(r.hang_key())
                })
                .collect();
            if !outstanding.is_empty() {
                let t = Instant::now();
                let deadline = Instant::now() + limits.timeout.min(TRAILING_ANSWERS);
                wait_answers(&mut rx, &mut answered, &outstanding, deadline).await;
                profile::add("batch.trailing", t);
            }
            let t = Instant::now();
            let mut probes = 0;
            for i in 0..n {
                let r = &prepared.requests[i];
                if answered[i].is_some() || !r.demanded || sent_at[i].is_none() {
                    continue;
                }
                if hangs.contains(r.hang_key()) {
                    settled[i] = Settled::KnownHang;
                    continue;
                }
                if probes >= MAX_PROBES {
                    continue;
                }
                probes += 1;
                messages += 1;
                let Some(message) = prepared.steps.get(r.step).and_then(|s| s.json.as_ref()) else {
                    continue;
                };
                settled[i] = self
                    .probe(r, message, i, &mut rx, &mut answered, limits)
                    .await;
                if settled[i] == Settled::Hang {
                    hangs.insert(r.hang_key());
                }
            }
            if probes > 0 {
                profile::add("batch.probes", t);
            }
        }
        let t_finish = Instant::now();
        drain(&mut rx, &mut answered);
        for i in 0..n {
            let r = &prepared.requests[i];
            if let (Some(at), Some(sent)) = (answered[i], sent_at[i]) {
                settled[i] = Settled::Answered(at.saturating_duration_since(sent));
            } else if settled[i] == Settled::Unsettled && !r.demanded {
                settled[i] = Settled::Optional;
            }
        }
        waiter.abort();

        let control = self.server.clone();
        let ended = if self.http {
            // An HTTP session closed by the input leaves the server running.
            matches!(ping, Ping::Closed) || write_failed
        } else {
            closed_stdin || session.stdout_closed() || matches!(ping, Ping::Closed) || write_failed
        };
        if ended {
            let _ = control.wait_exit(limits.exit_grace).await;
        }
        let exit = control.exit_status();
        let stdout_closed = session.stdout_closed();
        if exit.is_some() || stdout_closed {
            control.wait_stderr_closed(Duration::from_millis(500)).await;
        }
        if closed_stdin
            || exit.is_some()
            || stdout_closed
            || write_blocked
            || write_failed
            || !matches!(ping, Ping::Answered(_) | Ping::FirstLost)
        {
            self.dead = true;
        }

        let mut events = session.take_events_since(mark);
        let (mut duplicates, mut unknown_ids) = self.count_answers(&events);
        if let Some(second) = http_run.as_ref().and_then(|r| r.second.as_ref()) {
            let (theirs, d, u) = second_session_answers(second, &second_keys);
            events.extend(theirs);
            duplicates.extend(d);
            unknown_ids.extend(u);
        }
        drop(http_run);
        let stderr = self.new_stderr();
        let rss_kb = if exit.is_none() {
            self.rss.sample(self.pid(), starts.len() as u64)
        } else {
            None
        };
        self.inputs += 1;
        profile::add("batch.finish", t_finish);
        Observation {
            requests: prepared
                .requests
                .into_iter()
                .zip(settled)
                .map(|(info, settled)| RequestOutcome {
                    key: id_key(&info.id),
                    info,
                    settled,
                })
                .collect(),
            events,
            closed_stdin,
            exit,
            stdout_closed,
            ping,
            write_blocked,
            write_failed,
            stderr,
            rss_kb,
            elapsed: t0.elapsed(),
            messages,
            markers,
            duplicates,
            unknown_ids,
            http: self.http,
        }
    }

    /// Over HTTP, before the liveness ping: wait for the readers of dropped SSE answers
    /// (until then it is unknown whether their answers are owed), then for the second
    /// session's answers, and end the second session.
    async fn settle_http(
        &mut self,
        run: &mut HttpRun,
        prepared: &super::program::Prepared,
        sent_at: &[Option<Instant>],
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>,
        answered: &mut [Option<Instant>],
        limits: &Limits,
    ) {
        run.settle(Instant::now() + limits.timeout).await;
        if run.second.is_none() {
            return;
        }
        let theirs: Vec<usize> = (0..prepared.requests.len())
            .filter(|&i| {
                let r = &prepared.requests[i];
                r.demanded
                    && sent_at[i].is_some()
                    && prepared.steps.get(r.step).is_some_and(|s| s.session != 0)
            })
            .collect();
        wait_answers(rx, answered, &theirs, Instant::now() + limits.timeout).await;
        run.close_second(limits.write_timeout).await;
    }

    /// Ping after an input. A ping unanswered after a short patience is followed by a
    /// second one: a server that answers the second lost the first (its bytes may
    /// have shared a read with the input); one that answers neither stopped serving.
    async fn liveness(&mut self, newline_first: bool, limits: &Limits) -> (Ping, usize) {
        let session = self.session.clone();
        let send_ping = |conn: &mut Conn, prefix: bool| {
            let id = session.next_id();
            conn.book.sent(&id_key(&id), "ping");
            let pending = session.expect(&id, "ping");
            let mut bytes = if prefix { b"\n".to_vec() } else { Vec::new() };
            bytes.extend(
                serde_json::to_vec(&crate::session::request_message(&id, "ping", None))
                    .unwrap_or_default(),
            );
            bytes.push(b'\n');
            (pending, bytes)
        };
        let (first, bytes) = send_ping(self, newline_first);
        let sent = Instant::now();
        if !matches!(
            tokio::time::timeout(limits.write_timeout, session.send_raw(&bytes)).await,
            Ok(Ok(()))
        ) {
            return (Ping::Closed, 1);
        }
        let patience = self.ping_patience(limits);
        let first = first.wait(limits.timeout);
        tokio::pin!(first);
        tokio::select! {
            result = &mut first => {
                return match result {
                    Ok(_) => {
                        self.note_ping(sent.elapsed());
                        (Ping::Answered(sent.elapsed()), 1)
                    }
                    Err(RequestError::Timeout(_)) => (Ping::Unanswered, 1),
                    Err(_) => (Ping::Closed, 1),
                };
            }
            _ = tokio::time::sleep(patience) => {}
        }
        let (second, bytes) = send_ping(self, false);
        let second_sent = Instant::now();
        if !matches!(
            tokio::time::timeout(limits.write_timeout, session.send_raw(&bytes)).await,
            Ok(Ok(()))
        ) {
            return (Ping::Closed, 2);
        }
        let second = second.wait(limits.timeout);
        tokio::pin!(second);
        tokio::select! {
            result = &mut first => match result {
                Ok(_) => (Ping::Answered(sent.elapsed()), 2),
                Err(RequestError::Timeout(_)) => (Ping::Unanswered, 2),
                Err(_) => (Ping::Closed, 2),
            },
            result = &mut second => match result {
                Ok(_) => {
                    let latency = second_sent.elapsed();
                    // The first ping had a head start; a loaded machine may still
                    // schedule it late, so it gets a generous grace.
                    let grace = lost_grace(latency, limits);
                    match tokio::time::timeout(grace, &mut first).await {
                        Ok(Ok(_)) => (Ping::Answered(sent.elapsed()), 2),
                        _ => (Ping::FirstLost, 2),
                    }
                }
                Err(RequestError::Timeout(_)) => (Ping::Unanswered, 2),
                Err(_) => (Ping::Closed, 2),
            },
        }
    }

    /// How long to wait for a ping before sending a second one: ten times the slowest
    /// recent ping, between 100 ms and the timeout.
    fn ping_patience(&self, limits: &Limits) -> Duration {
        let slowest = self
            .ping_latencies
            .iter()
            .max()
            .copied()
            .unwrap_or_default();
        (slowest * 10)
            .max(Duration::from_millis(100))
            .min(limits.timeout)
    }

    fn note_ping(&mut self, latency: Duration) {
        self.ping_latencies.push_back(latency);
        if self.ping_latencies.len() > 32 {
            self.ping_latencies.pop_front();
        }
    }

    /// Send an unanswered request again, alone and whole, with a fresh id. If the copy
    /// is answered while the original still is not, the original's answer was lost;
    /// if neither is answered in time, the request hangs.
    async fn probe(
        &mut self,
        r: &RequestInfo,
        message: &Value,
        index: usize,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>,
        answered: &mut [Option<Instant>],
        limits: &Limits,
    ) -> Settled {
        let session = self.session.clone();
        let fresh = self.alloc.fresh_like(&r.id);
        let mut message = message.clone();
        message["id"] = fresh.clone();
        if let (Some(old), Some(new)) = (id_token(&r.id), id_token(&fresh)) {
            retoken(&mut message, &old, &new);
        }
        self.book.sent(&id_key(&fresh), &r.method);
        let pending = session.expect(&fresh, &r.method);
        let sent = Instant::now();
        if tokio::time::timeout(limits.write_timeout, session.send(&message))
            .await
            .map_or(true, |r| r.is_err())
        {
            return Settled::Unsettled;
        }
        let wait = pending.wait(limits.timeout);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                result = &mut wait => {
                    return match result {
                        Ok(_) => {
                            let latency = sent.elapsed();
                            // The original had a head start; a loaded machine may
                            // still schedule it late, so it gets a generous grace.
                            let grace = lost_grace(latency, limits);
                            let deadline = Instant::now() + grace;
                            wait_answers(rx, answered, &[index], deadline).await;
                            if answered[index].is_some() {
                                Settled::Unsettled
                            } else {
                                Settled::Lost { probe: latency }
                            }
                        }
                        // Over HTTP a response that ended without the answer is no
                        // answer either.
                        Err(RequestError::Timeout(_)) | Err(RequestError::Http(_)) => {
                            drain(rx, answered);
                            if answered[index].is_some() { Settled::Unsettled } else { Settled::Hang }
                        }
                        Err(_) => Settled::Unsettled,
                    };
                }
                got = rx.recv() => {
                    match got {
                        Some((i, at)) => {
                            answered[i] = Some(at);
                            if i == index {
                                return Settled::Unsettled;
                            }
                        }
                        None => return Settled::Unsettled,
                    }
                }
            }
        }
    }

    /// Count responses per id against the book: more answers than sends is a
    /// duplicate; an id never sent is unknown.
    fn count_answers(&mut self, events: &[Inbound]) -> (Vec<(String, String)>, Vec<Value>) {
        let mut duplicates = Vec::new();
        let mut unknown = Vec::new();
        for e in events {
            let Inbound::Response(v) = e else { continue };
            let Some(id) = v.get("id") else { continue };
            if id.is_null() {
                continue;
            }
            let key = id_key(id);
            match self.book.answered(&key) {
                Some(entry) if entry.answers > entry.sent => {
                    duplicates.push((key, entry.method.clone()));
                }
                Some(_) => {}
                None => {
                    if self.session.method_of(id).is_none() {
                        unknown.push(id.clone());
                    }
                }
            }
        }
        (duplicates, unknown)
    }

    fn new_stderr(&mut self) -> Vec<u8> {
        let control = &self.server;
        let total = control.stderr_total();
        let fresh = total.saturating_sub(self.stderr_seen) as usize;
        self.stderr_seen = total;
        if fresh == 0 {
            return Vec::new();
        }
        let all = control.stderr();
        all[all.len().saturating_sub(fresh)..].to_vec()
    }

    /// Over HTTP, after the ping failed: whether the server still lives. A started
    /// process that is going down gets the exit grace to be seen ended, so that its
    /// death is reported as the crash it is, not as a server that stopped answering.
    async fn http_server_lives(&self, limits: &Limits) -> bool {
        if !self.server.is_detached() {
            return self.server.wait_exit(limits.exit_grace).await.is_none();
        }
        self.server_alive()
    }

    /// Over HTTP: the started server still runs, or (none started) the endpoint
    /// still accepts connections.
    fn server_alive(&self) -> bool {
        if !self.server.is_detached() {
            return self.server.is_running();
        }
        self.session.http().is_some_and(|info| {
            std::net::TcpStream::connect_timeout(&info.endpoint.addr, Duration::from_secs(1))
                .is_ok()
        })
    }

    /// Kill the process (it is reaped in the background).
    pub fn kill(&self) {
        self.server.kill();
        if let Some(s) = &self.started {
            s.drain.abort();
        }
    }

    /// The last lines of the wire transcript, each with its time since spawn.
    pub fn transcript_tail(&self, lines: usize) -> Vec<String> {
        self.session
            .transcript_tail(lines)
            .into_iter()
            .map(|(at, line)| format!("[{:>8.3}s] {line}", at.as_secs_f64()))
            .collect()
    }

    pub fn stderr_tail(&self, max_bytes: usize) -> String {
        let all = self.server.stderr();
        let tail = &all[all.len().saturating_sub(max_bytes)..];
        String::from_utf8_lossy(tail).into_owned()
    }
}

/// Ids (as keys) of the requests and messages sent in the second session.
fn second_session_keys(steps: &[Step], run: Option<&HttpRun>) -> HashSet<String> {
    if run.is_none_or(|r| r.second.is_none()) {
        return HashSet::new();
    }
    steps
        .iter()
        .filter(|s| s.session != 0)
        .flat_map(super::program::step_ids)
        .collect()
}

/// Everything the second session received, with its duplicate answers and the
/// answers it got for ids it never sent (another session's).
fn second_session_answers(
    second: &Session,
    keys: &HashSet<String>,
) -> (Vec<Inbound>, Vec<(String, String)>, Vec<Value>) {
    let events = second.events_since(0);
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut unknown = Vec::new();
    for e in &events {
        let Inbound::Response(v) = e else { continue };
        let Some(id) = v.get("id").filter(|id| !id.is_null()) else {
            continue;
        };
        let key = id_key(id);
        if keys.contains(&key) {
            let n = counts.entry(key.clone()).or_default();
            *n += 1;
            if *n == 2 {
                duplicates.push((key, second.method_of(id).unwrap_or_default()));
            }
        } else if second.method_of(id).is_none() {
            unknown.push(id.clone());
        }
    }
    // Its handshake is not part of the input.
    let own: Vec<Inbound> = events
        .into_iter()
        .filter(|e| match e {
            Inbound::Response(v) => v
                .get("id")
                .is_none_or(|id| keys.contains(&id_key(id)) || second.method_of(id).is_none()),
            _ => true,
        })
        .collect();
    (own, duplicates, unknown)
}

/// How long an earlier request may still be answered after a later copy was: twenty
/// times the copy's latency, at least 1 s (thread scheduling on a busy machine), at
/// most the timeout.
fn lost_grace(copy_latency: Duration, limits: &Limits) -> Duration {
    (copy_latency * 20)
        .max(Duration::from_secs(1))
        .min(limits.timeout)
}

/// The same writes with every pause at most `cap`.
fn cap_delays(delivery: &mcpspec_harness::Delivery, cap: Duration) -> mcpspec_harness::Delivery {
    let mut out = mcpspec_harness::Delivery::default();
    for piece in delivery.pieces() {
        out = out.then(
            piece.delay_before.min(cap),
            mcpspec_harness::Delivery::whole(piece.bytes.clone()),
        );
    }
    out
}

fn retoken(v: &mut Value, old: &str, new: &str) {
    match v {
        Value::String(s) => {
            let from = format!("{MARKER_OPEN}{old}{MARKER_SEP}");
            if s.contains(&from) {
                *s = s.replace(&from, &format!("{MARKER_OPEN}{new}{MARKER_SEP}"));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| retoken(i, old, new)),
        Value::Object(obj) => obj.values_mut().for_each(|i| retoken(i, old, new)),
        _ => {}
    }
    let _ = MARKER_CLOSE;
}

fn drain(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>,
    answered: &mut [Option<Instant>],
) {
    while let Ok((i, at)) = rx.try_recv() {
        if let Some(slot) = answered.get_mut(i) {
            slot.get_or_insert(at);
        }
    }
}

/// Wait until every request in `which` is answered, or `deadline`.
async fn wait_answers(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>,
    answered: &mut [Option<Instant>],
    which: &[usize],
    deadline: Instant,
) {
    loop {
        drain(rx, answered);
        if which
            .iter()
            .all(|&i| answered.get(i).is_some_and(Option::is_some))
        {
            return;
        }
        match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            Ok(Some((i, at))) => {
                if let Some(slot) = answered.get_mut(i) {
                    slot.get_or_insert(at);
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Markers found in a server message: (token, payload).
pub fn markers_of(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect_markers(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_args_reach_the_same_target() {
        let argv: Vec<String> = ["./srv", "--port", "{port}"].map(String::from).into();
        let mut target = Target {
            command: CommandSpec::from_argv(&argv).expect("argv"),
            process: ProcessOptions::default(),
            revision: "2025-11-25".into(),
            init_timeout: Duration::from_secs(1),
            http: None,
        };
        assert_eq!(target.replay_args(), "-- ./srv --port {port}");
        target.http = Some(HttpEndpoint {
            url: "http://127.0.0.1:{port}/mcp".into(),
            start: true,
        });
        assert_eq!(
            target.replay_args(),
            "--url 'http://127.0.0.1:{port}/mcp' -- ./srv --port {port}"
        );
        // A server the user runs: nothing to start.
        target.command.program.clear();
        target.command.args.clear();
        assert_eq!(target.replay_args(), "--url 'http://127.0.0.1:{port}/mcp'");
    }

    #[test]
    fn proc_parsers() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t   2048 kB\n"),
            Some(2048)
        );
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert_eq!(parse_pgrp("123 (my (odd) name) S 1 456 456 0"), Some(456));
        assert_eq!(parse_pgrp("garbage"), None);
    }

    #[test]
    fn id_book_counts_duplicates() {
        let mut book = IdBook::default();
        book.sent("1", "ping");
        assert_eq!(book.answered("1").map(|e| e.answers), Some(1));
        let again = book.answered("1").unwrap();
        assert!(again.answers > again.sent);
        assert!(book.answered("2").is_none());
    }

    #[test]
    fn batch_delays_are_capped_and_the_bytes_kept() {
        use mcpspec_harness::Delivery;
        let d = Delivery::whole(b"ab".to_vec())
            .then(Duration::from_millis(20), Delivery::whole(b"cd".to_vec()))
            .then(Duration::ZERO, Delivery::whole(b"e".to_vec()));
        let capped = cap_delays(&d, Duration::from_millis(1));
        let delays: Vec<Duration> = capped.pieces().iter().map(|p| p.delay_before).collect();
        assert_eq!(
            delays,
            [Duration::ZERO, Duration::from_millis(1), Duration::ZERO]
        );
        assert_eq!(capped.payload(), b"abcde");
    }

    #[test]
    fn own_rss_is_readable() {
        assert!(vm_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }
}
