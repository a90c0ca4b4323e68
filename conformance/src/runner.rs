//! Runs a selection of cases against one server and builds the report.
//!
//! One probe handshake opens the run's shared session and tells what the server
//! declares. Shared cases then run concurrently on it; cases that could poison a
//! session get processes of their own; passive cases judge all traffic last. Every case
//! has an overall deadline on top of the deadlines of its own waits.

use crate::case::{
    Capability, Case, Companion, Ctx, Isolation, RunConfig, RunEnv, ServerProfile, Verdict,
};
use crate::report::{CaseRecord, Report, Subject, Summary, Timings, Tool};
use crate::session::Session;
use crate::spec::{Revision, Transport};
use crate::traffic::{Inbound, TrafficLog};
use mcpspec_harness::{ProcessControl, ServerProcess, SpawnError, StdinWriter};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;

/// Lines of transcript attached to each failure.
const TRANSCRIPT_LINES: usize = 24;

/// Bound on recorded server messages per run (the passive checks read them).
const TRAFFIC_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Spawn(#[from] SpawnError),
    #[error("the server never answered initialize within {timeout:?}: {detail}{}", stderr_hint(.stderr))]
    NoInitialize {
        timeout: Duration,
        detail: String,
        stderr: String,
    },
    #[error("the server rejected initialize for {version}: {response}")]
    InitializeRejected { version: String, response: String },
    /// Over HTTP: the endpoint is unusable, or the server we started never listened.
    #[error("{0}")]
    Http(String),
    #[error("revision {0} is not supported by `check` yet; use one of 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25")]
    UnsupportedRevision(Revision),
}

/// Why an answer may have been there but unusable: stdout that is not one JSON
/// message per line (pretty-printed, mixed with logs, or never flushed).
fn framing_hint(session: &Session) -> String {
    let events = session.events_since(0);
    if session.http().is_some() || session.legacy_sse().is_some() {
        // Over HTTP the transcript notes say what each response was.
        let tail: Vec<String> = session
            .transcript_tail(4)
            .into_iter()
            .map(|(_, line)| line)
            .collect();
        return match events.first() {
            Some(first) => format!(
                "; first thing received: {}",
                crate::util::clip(&first.describe(), 200)
            ),
            None if tail.is_empty() => String::new(),
            None => format!(
                "; last transcript lines: {}",
                crate::util::clip(&tail.join(" | "), 300)
            ),
        };
    }
    let invalid: Vec<&Inbound> = events
        .iter()
        .filter(|e| matches!(e, Inbound::Invalid { .. }))
        .collect();
    match invalid.first() {
        Some(first) => format!(
            "; {} stdout line(s) were not single JSON messages (mcpspec needs one message per line), the first: {}",
            invalid.len(),
            crate::util::clip(&first.describe(), 160)
        ),
        None if events.iter().any(|e| matches!(e, Inbound::Response(_))) => format!(
            "; a response arrived that matches no request id (the server altered the id?): {}",
            events
                .iter()
                .find(|e| matches!(e, Inbound::Response(_)))
                .map(|e| crate::util::clip(&e.describe(), 160))
                .unwrap_or_default()
        ),
        None if events.is_empty() && session.control().is_running() => {
            "; nothing at all arrived on stdout (is its output block-buffered, or does it expect different framing?)"
                .to_string()
        }
        None => String::new(),
    }
}

fn stderr_hint(stderr: &str) -> String {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    match last {
        Some(line) => format!(
            " (last stderr line: {})",
            crate::util::clip(line.trim(), 200)
        ),
        None => String::new(),
    }
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Case id prefixes or requirement ids to include (all when empty).
    pub only: Vec<String>,
    /// Case id prefixes or requirement ids to leave out.
    pub skip: Vec<String>,
}

impl Selection {
    fn matches(filter: &str, case: &Case) -> bool {
        case.id.starts_with(filter) || case.requirements.iter().any(|r| r == &filter)
    }

    pub fn includes(&self, case: &Case) -> bool {
        (self.only.is_empty() || self.only.iter().any(|f| Self::matches(f, case)))
            && !self.skip.iter().any(|f| Self::matches(f, case))
    }
}

/// Progress notifications for the CLI.
pub trait Progress: Send + Sync {
    fn started(&self, _total: usize) {}
    fn finished(&self, _record: &CaseRecord) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Cases of `catalogue` that apply to `revision` and `transport` and pass the selection.
pub fn select<'c>(
    catalogue: &'c [Case],
    revision: Revision,
    transport: Transport,
    selection: &Selection,
) -> Vec<&'c Case> {
    catalogue
        .iter()
        .filter(|c| c.revisions.contains(revision))
        .filter(|c| c.transports.contains(&transport))
        .filter(|c| selection.includes(c))
        .collect()
}

pub async fn run(
    config: RunConfig,
    catalogue: &[Case],
    selection: &Selection,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    if !config.revision.is_session_era() {
        return Err(RunError::UnsupportedRevision(config.revision));
    }
    let started = Instant::now();
    let started_at_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut config = config;
    // Over HTTP with a command: the one server process of the run (of both profiles
    // when both HTTP transports are checked).
    let server = match start_http_server(&mut config).await? {
        Some(server) => Some(server),
        None => {
            if let Some(http) = &config.http {
                probe_http(&http.url, config.init_timeout).await?;
            }
            None
        }
    };
    config.server_pid = server.as_ref().map(|s| s.control.pid());
    let control = server.as_ref().map(|s| &s.control);
    let outcome = match config.companion.clone() {
        None => run_profile(config, catalogue, selection, progress, control).await,
        Some(companion) => {
            run_both(config, companion, catalogue, selection, progress, control).await
        }
    };
    if let Some(server) = &server {
        server.stop().await;
    }
    let profile = outcome?;
    let summary = Summary::of(&profile.records);
    Ok(Report {
        schema_version: 1,
        tool: Tool::this(),
        subject: profile.subject,
        results: profile.records,
        summary,
        timings: Timings {
            started_at_unix,
            duration_ms: started.elapsed().as_millis() as u64,
            cases_ms: profile.timings,
            transcript_ms: profile.transcript_ms,
        },
    })
}

/// What one profile (one transport) of a run produced.
struct ProfileRun {
    subject: Subject,
    records: Vec<CaseRecord>,
    /// By record key.
    timings: BTreeMap<String, u64>,
    transcript_ms: BTreeMap<String, Vec<Option<u64>>>,
}

impl ProfileRun {
    /// Mark every record as run over `transport` (a report of two transports).
    fn tag(mut self, transport: Transport) -> Self {
        for r in &mut self.records {
            r.transport = Some(transport.as_str().to_string());
        }
        self.timings = rekey(self.timings, transport);
        self.transcript_ms = rekey(self.transcript_ms, transport);
        self
    }
}

fn rekey<V>(map: BTreeMap<String, V>, transport: Transport) -> BTreeMap<String, V> {
    map.into_iter()
        .map(|(k, v)| (format!("{}:{k}", transport.as_str()), v))
        .collect()
}

/// SSE-008: run the Streamable HTTP profile at the run's URL and the legacy HTTP+SSE
/// profile at `companion`, on the same server, into one report. The SSE-008 case runs
/// in the first profile that starts (it contacts the other endpoint itself); a
/// profile whose endpoint does not start is left out when that case ran and reported
/// it, and is the run's error otherwise.
async fn run_both(
    config: RunConfig,
    companion: Companion,
    catalogue: &[Case],
    selection: &Selection,
    progress: &dyn Progress,
    server: Option<&ProcessControl>,
) -> Result<ProfileRun, RunError> {
    let Some(http) = config.http.clone() else {
        return Err(RunError::Http(
            "two transports need an HTTP endpoint for each".into(),
        ));
    };
    let mut legacy = config.clone();
    legacy.companion = Some(Companion {
        transport: config.transport(),
        url: http.url.clone(),
    });
    if let Some(h) = legacy.http.as_mut() {
        h.url = companion.url.clone();
        h.legacy_sse = companion.transport == Transport::LegacySse;
    }
    let dual_selected = catalogue
        .iter()
        .any(|c| c.requirements.contains(&DUAL_REQUIREMENT) && selection.includes(c));
    let started = http.start_server.then(|| config.target.display());
    let first_transport = config.transport();
    let second_transport = legacy.transport();
    let progress = &Accumulated {
        inner: progress,
        total: std::sync::atomic::AtomicUsize::new(0),
    };
    let first = run_profile(config, catalogue, selection, progress, server).await;
    // The SSE-008 case runs once: in the first profile, unless that one never started.
    let mut second_selection = selection.clone();
    if first.is_ok() {
        second_selection.skip.push(DUAL_REQUIREMENT.to_string());
    }
    let second = run_profile(legacy, catalogue, &second_selection, progress, server).await;
    match (first, second) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (a.tag(first_transport), b.tag(second_transport));
            let command = match &started {
                Some(cmd) => format!("{} and {} (started: {cmd})", http.url, companion.url),
                None => format!("{} and {}", http.url, companion.url),
            };
            let subject = Subject {
                transport: "streamable-http+sse",
                command,
                requested_revision: a.subject.requested_revision.clone(),
                negotiated_revision: if a.subject.negotiated_revision
                    == b.subject.negotiated_revision
                {
                    a.subject.negotiated_revision.clone()
                } else {
                    format!(
                        "{} (over {}: {})",
                        a.subject.negotiated_revision,
                        second_transport.as_str(),
                        b.subject.negotiated_revision
                    )
                },
                server_name: a.subject.server_name.clone(),
                server_version: a.subject.server_version.clone(),
            };
            let mut run = a;
            run.subject = subject;
            run.records.extend(b.records);
            run.timings.extend(b.timings);
            run.transcript_ms.extend(b.transcript_ms);
            Ok(run)
        }
        (Ok(a), Err(e)) if dual_selected => Ok(without(a, first_transport, second_transport, &e)),
        (Err(e), Ok(b)) if dual_selected => Ok(without(b, second_transport, first_transport, &e)),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
    }
}

/// Progress over two profiles: the totals add up.
struct Accumulated<'a> {
    inner: &'a dyn Progress,
    total: std::sync::atomic::AtomicUsize,
}

impl Progress for Accumulated<'_> {
    fn started(&self, total: usize) {
        let sum = self
            .total
            .fetch_add(total, std::sync::atomic::Ordering::Relaxed)
            + total;
        self.inner.started(sum);
    }

    fn finished(&self, record: &CaseRecord) {
        self.inner.finished(record);
    }
}

/// A run of two transports where only `ran` started: its records, and the subject
/// saying why the other profile is missing (SSE-008's record reports it too).
fn without(run: ProfileRun, ran: Transport, missing: Transport, error: &RunError) -> ProfileRun {
    let mut run = run.tag(ran);
    run.subject.command = format!(
        "{}; the {} profile did not start: {}",
        run.subject.command,
        missing.as_str(),
        crate::util::clip(&error.to_string(), 300)
    );
    run
}

/// The requirement of servers serving both HTTP transports.
const DUAL_REQUIREMENT: &str = "SSE-008";

/// One profile: the probe handshake, then every selected case over the run's
/// transport. `server` is the process the run started, if any (its stderr explains a
/// failed start).
async fn run_profile(
    config: RunConfig,
    catalogue: &[Case],
    selection: &Selection,
    progress: &dyn Progress,
    server: Option<&ProcessControl>,
) -> Result<ProfileRun, RunError> {
    let traffic = TrafficLog::new(TRAFFIC_LIMIT);
    let transport = config.transport();

    // The probe handshake: its session becomes the run's shared session.
    let shared = match &config.http {
        None => Session::spawn(&config.target, &config.process, traffic.clone())?,
        Some(_) => config
            .open_session(traffic.clone())
            .map_err(RunError::Http)?,
    };
    // Legacy HTTP+SSE: without a usable endpoint nothing can be sent; say why.
    if shared.legacy_sse().is_some() {
        if let Err(why) = shared.legacy_endpoint(config.init_timeout).await {
            shared.control().kill();
            return Err(RunError::Http(why));
        }
    }
    let handshake = match shared
        .handshake(config.revision.as_str(), json!({}), config.init_timeout)
        .await
    {
        Ok(h) => h,
        Err(e) => {
            let hint = framing_hint(&shared);
            shared.control().kill();
            shared
                .control()
                .wait_stderr_closed(Duration::from_secs(2))
                .await;
            let stderr_source = server.unwrap_or(shared.control());
            let stderr = String::from_utf8_lossy(&stderr_source.stderr()).into_owned();
            return Err(RunError::NoInitialize {
                timeout: config.init_timeout,
                detail: format!("{e}{hint}"),
                stderr,
            });
        }
    };
    if handshake.result().is_none() {
        shared.control().kill();
        return Err(RunError::InitializeRejected {
            version: config.revision.to_string(),
            response: handshake.response.summary(),
        });
    }
    // Cases follow what the server agreed to; LIFE cases judge the agreement itself.
    let negotiated = handshake
        .protocol_version()
        .and_then(Revision::parse)
        .filter(|r| r.is_session_era())
        .unwrap_or(config.revision);
    let profile = ServerProfile {
        handshake: handshake.clone(),
        revision: negotiated,
    };
    let command = match &config.http {
        None => config.target.display(),
        Some(http) if http.start_server => {
            format!("{} (started: {})", http.url, config.target.display())
        }
        Some(http) => http.url.clone(),
    };
    let subject = Subject {
        transport: transport.as_str(),
        command,
        requested_revision: config.revision.to_string(),
        negotiated_revision: handshake.protocol_version().unwrap_or("(none)").to_string(),
        server_name: handshake
            .result()
            .and_then(|r| r.pointer("/serverInfo/name"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        server_version: handshake
            .result()
            .and_then(|r| r.pointer("/serverInfo/version"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
    };

    let cases = select(catalogue, negotiated, transport, selection);
    progress.started(cases.len());
    let env = Arc::new(RunEnv {
        config,
        profile,
        traffic,
    });
    debug_assert_eq!(env.config.transport(), transport);

    let (passive, active): (Vec<&Case>, Vec<&Case>) = cases
        .into_iter()
        .partition(|c| c.isolation == Isolation::Passive);
    let mut records = Vec::new();
    let mut timings = BTreeMap::new();
    let mut transcript_ms = BTreeMap::new();

    let jobs = env.config.jobs.max(1);
    let limit = Arc::new(Semaphore::new(jobs));
    let mut set = tokio::task::JoinSet::new();
    for case in active {
        let case = *case;
        if let Some(verdict) = not_applicable(&case, &env.profile) {
            let (record, _) = CaseRecord::new(&case, verdict, Vec::new());
            progress.finished(&record);
            records.push(record);
            continue;
        }
        let env = env.clone();
        let shared = shared.clone();
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let t0 = Instant::now();
            let record = run_case(case, env, shared).await;
            (record, t0.elapsed())
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(((record, times), elapsed)) => {
                progress.finished(&record);
                if !times.is_empty() {
                    transcript_ms.insert(record.id.clone(), times);
                }
                timings.insert(record.id.clone(), elapsed.as_millis() as u64);
                records.push(record);
            }
            Err(e) => {
                // A panicking case is our bug; it must not hide the others' results.
                eprintln!("mcpspec: internal error in a case: {e}");
            }
        }
    }

    // Passive checks judge the traffic of everything above, including the shared
    // session's orderly shutdown.
    shared.close_stdin().await;
    let _ = shared.control().wait_exit(env.config.shutdown_grace).await;
    for case in passive {
        let t0 = Instant::now();
        let (record, times) = match not_applicable(case, &env.profile) {
            Some(v) => CaseRecord::new(case, v, Vec::new()),
            None => run_case(*case, env.clone(), shared.clone()).await,
        };
        progress.finished(&record);
        if !times.is_empty() {
            transcript_ms.insert(record.id.clone(), times);
        }
        timings.insert(record.id.clone(), t0.elapsed().as_millis() as u64);
        records.push(record);
    }
    shared.control().kill();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ProfileRun {
        subject,
        records,
        timings,
        transcript_ms,
    })
}

fn not_applicable(case: &Case, profile: &ServerProfile) -> Option<Verdict> {
    let missing: Vec<&str> = case
        .needs
        .iter()
        .filter(|c| !profile.declares(**c))
        .map(|c: &Capability| c.name())
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(Verdict::not_applicable(format!(
            "the server does not declare the {} capability",
            missing.join(", ")
        )))
    }
}

async fn run_case(case: Case, env: Arc<RunEnv>, shared: Session) -> (CaseRecord, Vec<Option<u64>>) {
    let session = match case.isolation {
        Isolation::Shared | Isolation::Passive => Ok(shared),
        Isolation::Raw => env
            .config
            .open_session(env.traffic.clone())
            .map_err(|e| Verdict::harness_error(format!("could not start the server: {e}"))),
        Isolation::Fresh => fresh_session(&env).await,
    };
    let session = match session {
        Ok(s) => s,
        Err(verdict) => return CaseRecord::new(&case, verdict, Vec::new()),
    };
    let owned = case.isolation != Isolation::Shared && case.isolation != Isolation::Passive;
    let mut ctx = Ctx::new(env.clone(), session.clone());
    let verdict = match tokio::time::timeout(env.config.case_timeout, (case.run)(&mut ctx)).await {
        Ok(Ok(v)) | Ok(Err(v)) => v,
        Err(_) => Verdict::harness_error(format!(
            "the case did not finish within {:?} (every wait has its own deadline, so this is an mcpspec bug)",
            env.config.case_timeout
        )),
    };
    let transcript = if verdict.is_pass() {
        Vec::new()
    } else {
        ctx.transcript_tail(TRANSCRIPT_LINES)
    };
    if owned {
        session.control().kill();
        if session.http().is_some() || session.legacy_sse().is_some() {
            // Ends the HTTP session (DELETE; legacy SSE: close the stream) so the
            // server can free it.
            session.close_stdin().await;
        }
    }
    CaseRecord::new(&case, verdict, transcript)
}

async fn fresh_session(env: &RunEnv) -> Result<Session, Verdict> {
    let session = env
        .config
        .open_session(env.traffic.clone())
        .map_err(|e| Verdict::harness_error(format!("could not start the server: {e}")))?;
    let handshake = session
        .handshake(
            env.config.revision.as_str(),
            json!({}),
            env.config.init_timeout,
        )
        .await
        .map_err(|e| {
            Verdict::harness_error(format!("a fresh server did not complete initialize: {e}"))
        })?;
    if handshake.result().is_none() {
        return Err(Verdict::harness_error(format!(
            "a fresh server refused initialize: {}",
            handshake.response.summary()
        )));
    }
    Ok(session)
}

/// A server process the run started for an HTTP target.
struct HttpServer {
    control: ProcessControl,
    /// Kept open: some servers exit when stdin closes.
    _stdin: StdinWriter,
    drain: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Kill the process group and reap it.
    async fn stop(&self) {
        self.control.kill();
        let _ = self.control.wait_exit(Duration::from_secs(5)).await;
        self.drain.abort();
    }
}

/// Replace `{port}` in the URL, the arguments and the environment.
pub fn substitute_port(text: &str, port: u16) -> String {
    text.replace("{port}", &port.to_string())
}

/// Over HTTP with a command: pick a free loopback port, start the server with it (in
/// the URL, the arguments and `PORT`), and wait until the port accepts connections.
async fn start_http_server(config: &mut RunConfig) -> Result<Option<HttpServer>, RunError> {
    let Some(http) = config.http.as_mut() else {
        return Ok(None);
    };
    if !http.start_server {
        return Ok(None);
    }
    let port = mcpspec_harness::free_loopback_port()
        .map_err(|e| RunError::Http(format!("no free loopback port: {e}")))?;
    http.url = substitute_port(&http.url, port);
    // Both transports of one server: the same port in both URLs.
    if let Some(companion) = config.companion.as_mut() {
        companion.url = substitute_port(&companion.url, port);
    }
    let endpoint = crate::session::HttpTarget::parse(&http.url).map_err(RunError::Http)?;
    let target = &mut config.target;
    target.args = target
        .args
        .iter()
        .map(|a| substitute_port(a, port))
        .collect();
    for (_, value) in target.env.iter_mut() {
        *value = substitute_port(value, port);
    }
    if !target.env.iter().any(|(k, _)| k == "PORT") {
        target.env.push(("PORT".into(), port.to_string()));
    }
    let process = ServerProcess::spawn(target, &config.process)?;
    let (control, stdin, mut stdout) = process.split();
    // Nobody reads the server's stdout over HTTP; drain it so the server never blocks.
    let drain = tokio::spawn(async move { while stdout.next_event().await.is_some() {} });
    let server = HttpServer {
        control,
        _stdin: stdin,
        drain,
    };
    let deadline = Instant::now() + config.init_timeout;
    let listening = tokio::select! {
        r = mcpspec_harness::wait_until_listening(endpoint.addr, deadline) => r.map(|_| ()),
        status = server.control.wait_exit(config.init_timeout + Duration::from_secs(1)) => {
            let _ = server.control.wait_stderr_closed(Duration::from_secs(2)).await;
            let stderr = String::from_utf8_lossy(&server.control.stderr()).into_owned();
            server.stop().await;
            return Err(RunError::Http(format!(
                "the server exited before listening on {} ({}){}",
                endpoint.addr,
                status.map(|s| s.to_string()).unwrap_or_else(|| "still running".into()),
                stderr_hint(&stderr)
            )));
        }
    };
    if let Err(e) = listening {
        let stderr = String::from_utf8_lossy(&server.control.stderr()).into_owned();
        server.stop().await;
        return Err(RunError::Http(format!(
            "the server did not listen within {:?}: {e}{}",
            config.init_timeout,
            stderr_hint(&stderr)
        )));
    }
    Ok(Some(server))
}

/// A URL the user runs a server at: it must accept connections (bounded wait).
async fn probe_http(url: &str, init_timeout: Duration) -> Result<(), RunError> {
    let endpoint = crate::session::HttpTarget::parse(url).map_err(RunError::Http)?;
    let deadline = Instant::now() + init_timeout.min(Duration::from_secs(5));
    mcpspec_harness::wait_until_listening(endpoint.addr, deadline)
        .await
        .map(|_| ())
        .map_err(|e| RunError::Http(format!("{url} does not answer: {e}")))
}
