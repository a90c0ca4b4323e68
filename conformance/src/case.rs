//! The case model: a case is plain data plus one async function.

use crate::session::{Handshake, RequestError, Session};
use crate::spec::{Level, Revision, Revisions, Transport};
use crate::traffic::TrafficLog;
use crate::util::clip;
use mcpspec_harness::{CommandSpec, HttpOptions, ProcessOptions};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a case function returns. `Err` is an early verdict, so `?` can end a case.
pub type CaseResult = Result<Verdict, Verdict>;

pub type CaseFn = for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, CaseResult>;

/// How much of the server a case may disturb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Read-only checks on the run's shared, initialized session (run concurrently).
    Shared,
    /// A fresh server process, initialized, owned by the case.
    Fresh,
    /// A fresh server process with nothing sent yet.
    Raw,
    /// No traffic of its own: judges what every other case's traffic showed. Runs last.
    Passive,
}

/// Server capabilities a case needs before it can say anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Tools,
    Resources,
    ResourceSubscribe,
    Prompts,
    Logging,
    Completions,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::Tools => "tools",
            Capability::Resources => "resources",
            Capability::ResourceSubscribe => "resources.subscribe",
            Capability::Prompts => "prompts",
            Capability::Logging => "logging",
            Capability::Completions => "completions",
        }
    }

    /// Whether an `initialize` capabilities object declares this capability.
    pub fn declared_in(self, capabilities: &Value) -> bool {
        match self {
            Capability::ResourceSubscribe => {
                capabilities.pointer("/resources/subscribe") == Some(&Value::Bool(true))
            }
            other => capabilities.get(other.name()).is_some_and(|v| !v.is_null()),
        }
    }
}

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// `<spec-page>/<behaviour>`, e.g. `basic/transports/stdio/split-writes`.
    pub id: &'static str,
    pub title: &'static str,
    /// Requirement ids from the catalogue that this case checks.
    pub requirements: &'static [&'static str],
    pub level: Level,
    pub revisions: Revisions,
    pub transports: &'static [Transport],
    pub needs: &'static [Capability],
    pub isolation: Isolation,
    pub run: CaseFn,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("id", &self.id).finish()
    }
}

impl Case {
    /// The spec page part of the id (everything before the last `/`).
    pub fn page(&self) -> &'static str {
        self.id.rsplit_once('/').map(|(p, _)| p).unwrap_or(self.id)
    }

    pub fn behaviour(&self) -> &'static str {
        self.id.rsplit_once('/').map(|(_, b)| b).unwrap_or(self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Pass,
    Violation,
    Untestable,
    NotApplicable,
    HarnessError,
}

/// What a case concluded. Violations are turned into fail/warn/info by level, in one
/// place (`report::Outcome::from_verdict`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// For requirements that mix levels: the level of the part that was violated.
    pub level: Option<Level>,
}

impl Verdict {
    fn new(kind: VerdictKind, message: impl Into<String>) -> Self {
        Verdict {
            kind,
            message: message.into(),
            expected: None,
            actual: None,
            level: None,
        }
    }

    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(VerdictKind::Pass, message)
    }

    pub fn violation(message: impl Into<String>) -> Self {
        Self::new(VerdictKind::Violation, message)
    }

    pub fn untestable(reason: impl Into<String>) -> Self {
        Self::new(VerdictKind::Untestable, reason)
    }

    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Self::new(VerdictKind::NotApplicable, reason)
    }

    pub fn harness_error(reason: impl Into<String>) -> Self {
        Self::new(VerdictKind::HarnessError, reason)
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(clip(&actual.into(), 2000));
        self
    }

    /// Mark a violation as breaking a part of the requirement with this level.
    pub fn at_level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    pub fn is_pass(&self) -> bool {
        self.kind == VerdictKind::Pass
    }
}

/// A request that got no usable answer is a violation of the case's requirement: the
/// server had to answer and did not.
impl From<RequestError> for Verdict {
    fn from(e: RequestError) -> Self {
        Verdict::violation(format!("the server did not answer: {e}"))
            .expected("a response")
            .actual(e.to_string())
    }
}

/// A server reached over Streamable HTTP.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The MCP endpoint. Before the run starts it may contain `{port}`; the runner
    /// replaces it with the port it gave the server it started.
    pub url: String,
    /// Whether the run starts `RunConfig::target` itself (one process for the run).
    pub start_server: bool,
    pub options: HttpOptions,
    /// `url` is the SSE endpoint of the legacy HTTP+SSE transport (2024-11-05), not a
    /// Streamable HTTP endpoint.
    pub legacy_sse: bool,
}

/// Run-wide settings every case may read.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server command (over HTTP: the command that starts the server, if any).
    pub target: CommandSpec,
    /// Set for a Streamable HTTP run; stdio otherwise.
    pub http: Option<HttpConfig>,
    pub revision: Revision,
    pub request_timeout: Duration,
    pub init_timeout: Duration,
    pub case_timeout: Duration,
    /// How long a fresh server must stay silent before any input (STDIO-003).
    pub startup_grace: Duration,
    /// How long to wait for exit after stdin closes, and after SIGTERM.
    pub shutdown_grace: Duration,
    pub jobs: usize,
    /// Tools the user allows us to call besides those annotated read-only.
    pub allow_tools: Vec<String>,
    pub process: ProcessOptions,
    /// Folder with `<revision>/schema.json` files, for schema validation.
    pub schema_dir: Option<std::path::PathBuf>,
    /// A run over both HTTP transports of one server (`--url` with `--sse`): the other
    /// endpoint. The runner runs one profile per endpoint; SSE-008 contacts this one.
    pub companion: Option<Companion>,
    /// The process (and process group) id of the server the run started over HTTP;
    /// `None` when the run did not start it (a given URL) or over stdio.
    pub server_pid: Option<u32>,
}

/// The other endpoint of a server checked over both HTTP transports.
#[derive(Debug, Clone)]
pub struct Companion {
    pub transport: Transport,
    /// Before the run starts it may contain `{port}` (the same port as the main URL).
    pub url: String,
}

impl RunConfig {
    pub fn new(target: CommandSpec, revision: Revision) -> Self {
        RunConfig {
            target,
            http: None,
            revision,
            request_timeout: Duration::from_secs(10),
            init_timeout: Duration::from_secs(30),
            case_timeout: Duration::from_secs(90),
            startup_grace: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
            jobs: 4,
            allow_tools: Vec::new(),
            process: ProcessOptions::default(),
            schema_dir: None,
            companion: None,
            server_pid: None,
        }
    }

    /// A Streamable HTTP run against `url`; with `command`, the run starts the server
    /// (`{port}` in the URL, the arguments and the `PORT` variable becomes a free port).
    pub fn http(url: &str, command: Option<CommandSpec>, revision: Revision) -> Self {
        let start_server = command.is_some();
        let target = command.unwrap_or(CommandSpec {
            program: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
        });
        let mut config = RunConfig::new(target, revision);
        config.http = Some(HttpConfig {
            url: url.to_string(),
            start_server,
            options: HttpOptions::default(),
            legacy_sse: false,
        });
        config
    }

    /// A legacy HTTP+SSE run against the SSE endpoint `url` (server start as for
    /// [`RunConfig::http`]).
    pub fn legacy_sse(url: &str, command: Option<CommandSpec>, revision: Revision) -> Self {
        let mut config = RunConfig::http(url, command, revision);
        if let Some(http) = config.http.as_mut() {
            http.legacy_sse = true;
        }
        config
    }

    /// Both HTTP transports of one server: Streamable HTTP at `url`, the legacy
    /// HTTP+SSE transport at `sse_url` (one server process when `command` is given).
    pub fn dual(
        url: &str,
        sse_url: &str,
        command: Option<CommandSpec>,
        revision: Revision,
    ) -> Self {
        let mut config = RunConfig::http(url, command, revision);
        config.companion = Some(Companion {
            transport: Transport::LegacySse,
            url: sse_url.to_string(),
        });
        config
    }

    /// The transport this run speaks.
    pub fn transport(&self) -> Transport {
        if self.http.as_ref().is_some_and(|h| h.legacy_sse) {
            Transport::LegacySse
        } else if self.http.is_some() {
            Transport::StreamableHttp
        } else {
            Transport::Stdio
        }
    }

    /// A new session with nothing sent yet: a new server process over stdio, a new
    /// HTTP session (no session id yet) on the run's server over HTTP.
    pub fn open_session(&self, traffic: TrafficLog) -> Result<Session, String> {
        match &self.http {
            Some(http) => {
                let mut options = http.options.clone();
                options.timeout = options.timeout.max(self.request_timeout);
                if http.legacy_sse {
                    return Session::connect_legacy_sse(&http.url, options, traffic)
                        .map_err(|e| e.to_string());
                }
                Session::connect_http(&http.url, options, traffic).map_err(|e| e.to_string())
            }
            None => Session::spawn(&self.target, &self.process, traffic).map_err(|e| e.to_string()),
        }
    }
}

/// What the run learnt from its first handshake with the server.
#[derive(Debug, Clone)]
pub struct ServerProfile {
    pub handshake: Handshake,
    /// The revision the session actually runs at (the one the server agreed to).
    pub revision: Revision,
}

impl ServerProfile {
    pub fn capabilities(&self) -> Value {
        self.handshake
            .capabilities()
            .map(|m| Value::Object(m.clone()))
            .unwrap_or_else(|| json!({}))
    }

    pub fn declares(&self, capability: Capability) -> bool {
        capability.declared_in(&self.capabilities())
    }
}

/// Shared by every case of a run.
#[derive(Debug)]
pub struct RunEnv {
    pub config: RunConfig,
    pub profile: ServerProfile,
    pub traffic: TrafficLog,
}

/// What a case function works with.
pub struct Ctx {
    pub env: Arc<RunEnv>,
    session: Session,
    /// Extra processes the case started; their transcripts go into the report.
    spawned: Vec<Session>,
}

impl Ctx {
    pub fn new(env: Arc<RunEnv>, session: Session) -> Self {
        Ctx {
            env,
            session,
            spawned: Vec::new(),
        }
    }

    /// The case's session: the shared one, a fresh initialized one, or (for `Raw`
    /// cases) a fresh process with nothing sent yet, depending on the case's isolation.
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn config(&self) -> &RunConfig {
        &self.env.config
    }

    pub fn revision(&self) -> Revision {
        self.env.profile.revision
    }

    pub fn profile(&self) -> &ServerProfile {
        &self.env.profile
    }

    pub fn timeout(&self) -> Duration {
        self.env.config.request_timeout
    }

    pub fn traffic(&self) -> &TrafficLog {
        &self.env.traffic
    }

    /// The version string this run negotiates.
    pub fn version(&self) -> &'static str {
        self.revision().as_str()
    }

    /// Start another server process with nothing sent yet.
    /// Over HTTP: a new HTTP session on the run's server.
    pub fn spawn_raw(&mut self) -> Result<Session, Verdict> {
        let session = self
            .env
            .config
            .open_session(self.env.traffic.clone())
            .map_err(|e| Verdict::harness_error(format!("could not start another server: {e}")))?;
        self.spawned.push(session.clone());
        Ok(session)
    }

    /// Start another server process and complete the handshake at the run's revision.
    pub async fn spawn_initialized(&mut self, capabilities: Value) -> Result<Session, Verdict> {
        let session = self.spawn_raw()?;
        let handshake = session
            .handshake(self.version(), capabilities, self.env.config.init_timeout)
            .await
            .map_err(|e| {
                Verdict::harness_error(format!(
                    "a fresh server process did not complete initialize: {e}"
                ))
            })?;
        if handshake.result().is_none() {
            return Err(Verdict::harness_error(format!(
                "a fresh server process refused initialize: {}",
                handshake.response.summary()
            )));
        }
        Ok(session)
    }

    /// Transcript lines of every process this case used, each with its time since
    /// that process started (none for separators).
    pub fn transcript_tail(&self, lines: usize) -> Vec<(Option<Duration>, String)> {
        let mut out = Vec::new();
        let several = !self.spawned.is_empty();
        for (i, s) in std::iter::once(&self.session)
            .chain(&self.spawned)
            .enumerate()
        {
            let tail = s.transcript_tail(lines);
            if tail.is_empty() {
                continue;
            }
            if several {
                out.push((None, format!("-- process {} --", i + 1)));
            }
            out.extend(tail.into_iter().map(|(at, line)| (Some(at), line)));
        }
        out
    }
}
