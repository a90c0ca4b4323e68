//! Runs a selection of cases against one server and builds the report.
//!
//! One probe handshake opens the run's shared session and tells what the server
//! declares. Shared cases then run concurrently on it; cases that could poison a
//! session get processes of their own; passive cases judge all traffic last. Every case
//! has an overall deadline on top of the deadlines of its own waits.

use crate::case::{Capability, Case, Ctx, Isolation, RunConfig, RunEnv, ServerProfile, Verdict};
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
    let traffic = TrafficLog::new(TRAFFIC_LIMIT);
    let mut config = config;
    // Over HTTP with a command: the one server process of the run.
    let server = match start_http_server(&mut config).await? {
        Some(server) => Some(server),
        None => {
            if let Some(http) = &config.http {
                probe_http(&http.url, config.init_timeout).await?;
            }
            None
        }
    };
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
            if let Some(server) = &server {
                server.stop().await;
            }
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
            let stderr_source = server
                .as_ref()
                .map(|s| &s.control)
                .unwrap_or(shared.control());
            let stderr = String::from_utf8_lossy(&stderr_source.stderr()).into_owned();
            if let Some(server) = &server {
                server.stop().await;
            }
            return Err(RunError::NoInitialize {
                timeout: config.init_timeout,
                detail: format!("{e}{hint}"),
                stderr,
            });
        }
    };
    if handshake.result().is_none() {
        shared.control().kill();
        if let Some(server) = &server {
            server.stop().await;
        }
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
    if let Some(server) = &server {
        server.stop().await;
    }

    records.sort_by(|a, b| a.id.cmp(&b.id));
    let summary = Summary::of(&records);
    Ok(Report {
        schema_version: 1,
        tool: Tool::this(),
        subject,
        results: records,
        summary,
        timings: Timings {
            started_at_unix,
            duration_ms: started.elapsed().as_millis() as u64,
            cases_ms: timings,
            transcript_ms,
        },
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
