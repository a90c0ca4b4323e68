//! Command-line interface: `mcpspec check`, `list`, `fuzz` and `replay`.

use crate::case::{Case, RunConfig};
use crate::cases::catalogue;
use crate::report::{self, CaseRecord, Format, Outcome};
use crate::runner::{self, Progress, Selection};
use crate::spec::Revision;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mcpspec_harness::CommandSpec;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Examples:
  mcpspec check -- python3 my_server.py
  mcpspec check --spec 2025-06-18 --format junit --output report.xml -- npx -y @modelcontextprotocol/server-everything
  mcpspec check --only basic/lifecycle/ --only STDIO-006 -- ./target/release/my-server
  mcpspec check --url http://127.0.0.1:8080/mcp
  mcpspec check --url 'http://127.0.0.1:{port}/mcp' -- ./my-server --port '{port}'
  mcpspec check --sse http://127.0.0.1:8080/sse --spec 2024-11-05
  mcpspec check --url 'http://127.0.0.1:{port}/mcp' --sse 'http://127.0.0.1:{port}/sse' -- ./my-server --port '{port}'
  mcpspec list --spec 2025-03-26

Exit codes: 0 no MUST requirement failed (with --strict: no SHOULD warning either),
1 at least one failure, 2 usage or harness error (the reason is printed on one line),
130 interrupted.";

#[derive(Debug, Parser)]
#[command(
    name = "mcpspec",
    version,
    about = "Conformance checks for Model Context Protocol servers",
    long_about = "Conformance checks for Model Context Protocol (MCP) servers.\n\n\
        `mcpspec check` starts your server (any language; the command runs without a shell), \
        speaks to it over stdio as a strict client would, and reports one verdict per case. \
        Every case names the requirement ids it checks (see `mcpspec list`).",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certify a server against a spec revision.
    #[command(after_help = AFTER_HELP)]
    Check(CheckArgs),
    /// List every case: id, requirement ids, level, revisions, transports.
    List(ListArgs),
    /// Fuzz a server: framing, partial payloads, lost/duplicate/swapped answers, crashes, hangs.
    #[command(after_help = FUZZ_AFTER_HELP)]
    Fuzz(FuzzArgs),
    /// Re-run one saved fuzz finding against a server.
    #[command(after_help = REPLAY_AFTER_HELP)]
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Spec revision to certify against (2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25).
    #[arg(long, default_value = "2025-11-25", value_parser = parse_revision)]
    pub spec: Revision,

    /// Run only cases whose id starts with this prefix or that check this requirement id
    /// (repeatable, or comma-separated). Example: --only basic/lifecycle/ --only STDIO-006
    #[arg(long, value_name = "PREFIX|REQ-ID", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Leave out cases by id prefix or requirement id (repeatable, or comma-separated).
    #[arg(long, value_name = "PREFIX|REQ-ID", value_delimiter = ',')]
    pub skip: Vec<String>,

    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// Write the report to this file; a human summary still goes to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Treat SHOULD warnings as failures for the exit code.
    #[arg(long)]
    pub strict: bool,

    /// Cases run at once (each isolated case starts its own server process).
    #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Time to wait for each response (seconds, or with a unit: 500ms, 30s, 1m).
    #[arg(long, value_name = "TIME", default_value_t = 10.0, value_parser = parse_seconds)]
    pub timeout: f64,

    /// Time to wait for the first initialize answer (slow starters like npx need more).
    #[arg(long, value_name = "TIME", default_value_t = 30.0, value_parser = parse_seconds)]
    pub init_timeout: f64,

    /// Also call this tool (by default only tools annotated readOnlyHint are called).
    #[arg(long, value_name = "NAME")]
    pub allow_tool: Vec<String>,

    /// Longest stdout line accepted from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = mcpspec_harness::ndjson::DEFAULT_MAX_LINE)]
    pub max_line: usize,

    /// Folder holding <revision>/schema.json files; enables schema validation of every
    /// server message.
    #[arg(long, value_name = "DIR", env = "MCPSPEC_SCHEMA_DIR")]
    pub schema_dir: Option<PathBuf>,

    /// No progress bar on stderr.
    #[arg(long)]
    pub quiet: bool,

    /// Check a Streamable HTTP server at this endpoint URL (http:// only). With a command
    /// after `--`, mcpspec starts it: `{port}` in the URL and in the arguments, and the
    /// PORT environment variable, become a free loopback port; it is stopped at the end.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Check a server over the legacy HTTP+SSE transport of 2024-11-05 at this SSE
    /// endpoint URL (http:// only): GET opens the event stream, whose `endpoint` event
    /// names where to POST (followed only on the same origin). A command after `--` is
    /// started as with --url. With --url too, one server is checked over both
    /// transports (SSE-008): started once, the same `{port}` in both URLs, one report.
    #[arg(long, value_name = "URL")]
    pub sse: Option<String>,

    /// The server command and its arguments, after `--` (optional with --url/--sse).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only cases that apply to this revision.
    #[arg(long, value_parser = parse_revision)]
    pub spec: Option<Revision>,

    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}

fn parse_revision(s: &str) -> Result<Revision, String> {
    Revision::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Revision::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown revision {s:?}; use one of {}", known.join(", "))
    })
}

/// Seconds, bare (`10`, `2.5`) or with a unit like `fuzz --time` takes (`30s`, `500ms`, `1m`).
fn parse_seconds(s: &str) -> Result<f64, String> {
    match crate::fuzz::parse_duration(s).map(|d| d.as_secs_f64()) {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a time between 0 and 3600 seconds (e.g. 10, 2.5, 30s, 500ms, 1m)"
        )),
    }
}

/// Run the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::List(args) => list(&args),
        Command::Check(args) => check(args).await,
        Command::Fuzz(args) => fuzz(args).await,
        Command::Replay(args) => replay(args).await,
    }
}

fn fail_usage(message: &str) -> i32 {
    eprintln!("mcpspec: error: {message}");
    2
}

fn list(args: &ListArgs) -> i32 {
    let cases: Vec<Case> = catalogue()
        .into_iter()
        .filter(|c| args.spec.is_none_or(|r| c.revisions.contains(r)))
        .collect();
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = cases
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "title": c.title,
                        "requirements": c.requirements,
                        "level": c.level,
                        "revisions": c.revisions.to_string(),
                        "transports": c.transports,
                        "needs": c.needs.iter().map(|n| n.name()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        ListFormat::Human => {
            for c in &cases {
                let transports: Vec<&str> = c.transports.iter().map(|t| t.as_str()).collect();
                println!(
                    "{:<52} {:<24} {:<10} {:<24} {}",
                    c.id,
                    c.requirements.join(","),
                    c.level.as_str(),
                    c.revisions.to_string(),
                    transports.join(",")
                );
            }
            println!("{} cases", cases.len());
        }
    }
    0
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn started(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn finished(&self, record: &CaseRecord) {
        if matches!(record.outcome, Outcome::Fail | Outcome::HarnessError) {
            self.0
                .println(format!("{} {}", record.outcome.as_str(), record.key()));
        }
        self.0.set_message(record.key());
        self.0.inc(1);
    }
}

/// Why `--{flag} URL` cannot be used, if it cannot: only http:// URLs; with `spec`
/// (Streamable HTTP), a revision that has that transport; a `{port}` placeholder
/// needs a command to start the server on that port.
fn url_usage(flag: &str, url: &str, spec: Option<Revision>, has_command: bool) -> Option<String> {
    if !url.starts_with("http://") {
        return Some(format!("--{flag} {url}: only http:// URLs are supported"));
    }
    if let Some(spec) = spec.filter(|spec| *spec < Revision::V2025_03_26) {
        return Some(format!(
            "--spec {spec}: Streamable HTTP exists from 2025-03-26 on"
        ));
    }
    if !has_command && url.contains("{port}") {
        return Some(format!(
            "--{flag} has {{port}} but no command after `--` to start"
        ));
    }
    None
}

async fn check(args: CheckArgs) -> i32 {
    let command = CommandSpec::from_argv(&args.command);
    let urls = [
        ("sse", &args.sse, None),
        ("url", &args.url, Some(args.spec)),
    ];
    for (flag, url, spec) in urls {
        if let Some(problem) = url
            .as_deref()
            .and_then(|url| url_usage(flag, url, spec, command.is_some()))
        {
            return fail_usage(&problem);
        }
    }
    let mut config = match (&args.url, command) {
        (Some(url), command) if args.sse.is_some() => {
            let sse = args.sse.as_deref().unwrap_or_default();
            if url == sse {
                return fail_usage("--url and --sse name the same URL; the two transports use different endpoints (e.g. /mcp and /sse)");
            }
            RunConfig::dual(url, sse, command, args.spec)
        }
        (None, command) if args.sse.is_some() => {
            RunConfig::legacy_sse(args.sse.as_deref().unwrap_or_default(), command, args.spec)
        }
        (None, None) => return fail_usage(
            "no server command given; put it after `--`, e.g. mcpspec check -- python3 server.py",
        ),
        (None, Some(target)) => RunConfig::new(target, args.spec),
        (Some(url), command) => RunConfig::http(url, command, args.spec),
    };
    let transport = config.transport();
    if let Some(dir) = &args.schema_dir {
        if !dir.join(args.spec.as_str()).join("schema.json").is_file() {
            return fail_usage(&format!(
                "--schema-dir {} has no {}/schema.json; point it at a folder of <revision>/schema.json files",
                dir.display(),
                args.spec
            ));
        }
    }
    config.request_timeout = Duration::from_secs_f64(args.timeout);
    config.init_timeout = Duration::from_secs_f64(args.init_timeout);
    config.jobs = args.jobs as usize;
    config.allow_tools = args.allow_tool.clone();
    config.process.max_line = args.max_line;
    config.schema_dir = args.schema_dir.clone();
    let selection = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
    };
    let catalogue = catalogue();
    let mut transports = vec![transport];
    transports.extend(config.companion.as_ref().map(|c| c.transport));
    if transports
        .iter()
        .all(|t| runner::select(&catalogue, args.spec, *t, &selection).is_empty())
    {
        return fail_usage("--only/--skip leave no case to run; see `mcpspec list` for ids");
    }

    let show_bar = !args.quiet && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(0),
        if show_bar {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let progress = Bar(bar.clone());
    let outcome = runner::run(config, &catalogue, &selection, &progress).await;
    bar.finish_and_clear();

    let report = match outcome {
        Ok(report) => report,
        Err(e) => return fail_usage(&e.to_string()),
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match &args.output {
        Some(path) => {
            let rendered = report::render(&report, args.format, false);
            if let Err(e) = std::fs::write(path, rendered) {
                return fail_usage(&format!("cannot write {}: {e}", path.display()));
            }
            print!("{}", report::render(&report, Format::Human, color));
        }
        None => print!(
            "{}",
            report::render(&report, args.format, color && args.format == Format::Human)
        ),
    }
    report.exit_code(args.strict)
}

// ---------------------------------------------------------------------------
// fuzz and replay
// ---------------------------------------------------------------------------

const FUZZ_AFTER_HELP: &str = "\
Examples:
  mcpspec fuzz --time 60s -- python3 my_server.py
  mcpspec fuzz --seed 42 --jobs 2 --corpus my-corpus/ --artifacts findings/ -- ./my-server
  mcpspec fuzz --time 30s --format junit --output fuzz.xml -- npx -y @modelcontextprotocol/server-everything

Oracles: crash, hang, liveness, framing, stdout-pollution (http-pollution over
--url), lost-response, duplicate-response, mismatched-id, invalid-message, memory,
stderr-panic (a warning).
Each new finding is confirmed in a fresh process, minimised and saved as
<artifacts>/<oracle>-<hash>.json; `mcpspec replay FILE -- COMMAND` runs it again.

Exit codes: 0 no finding (warnings only: 0 unless --strict), 1 findings,
2 usage or harness error (the reason is printed on one line), 130 interrupted.";

const REPLAY_AFTER_HELP: &str = "\
Examples:
  mcpspec replay mcpspec-findings/crash-3f2a9c1d.json -- ./my-server
  mcpspec replay --tries 20 findings/lost-response-0b1c2d3e.json -- python3 server.py

Without a command after `--`, the server command stored in the file is used.
Exit codes: 0 the finding did not fire, 1 it fired (in any try), 2 usage or harness error.";

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Fuzz for this long (e.g. 60s, 2m, 500ms). Default 60s unless --runs is given.
    /// No input starts later; those running then finish, and a finding they make is
    /// still confirmed once, so a run can end up to about two --timeout later.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub time: Option<Duration>,

    /// Stop after this many inputs (across all jobs).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,

    /// Seed of the input generator (default: from the clock, and printed).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Server processes fuzzed in parallel.
    #[arg(long, short, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Corpus folder: its *.json inputs are loaded as seeds, new interesting inputs are written to it.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,

    /// Where findings are saved as reproducer files.
    #[arg(long, value_name = "DIR", default_value = "mcpspec-findings")]
    pub artifacts: PathBuf,

    /// A request unanswered this long (while pings are answered) hangs.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub timeout: Duration,

    /// How long the server may take to answer its first initialize.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub init_timeout: Duration,

    /// Protocol revision requested in initialize.
    #[arg(long, default_value = "2025-11-25", value_parser = parse_revision)]
    pub spec: Revision,

    /// Resident memory (of the server's process group) that counts as a finding.
    #[arg(long, value_name = "MB", default_value_t = 1024)]
    pub max_rss_mb: u64,

    /// Steady memory growth over --rss-window inputs that counts as a finding.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub rss_growth_mb: u64,

    /// Inputs over which steady memory growth is judged.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(8..=4096))]
    pub rss_window: u64,

    /// Also call this tool (by default only tools annotated readOnlyHint are called).
    #[arg(long, value_name = "NAME")]
    pub allow_tool: Vec<String>,

    /// Time spent minimising each new finding, at most what is left of --time (one
    /// confirming run is made even when none is left).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub minimize_time: Duration,

    /// Save findings as found (they are still confirmed in a fresh process).
    #[arg(long)]
    pub no_minimize: bool,

    /// Do not load the seeds built into mcpspec (corpus/fuzz-stdio/ in its repository).
    #[arg(long)]
    pub no_builtin_seeds: bool,

    /// Longest stdout line accepted from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = mcpspec_harness::ndjson::DEFAULT_MAX_LINE)]
    pub max_line: usize,

    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// Write the report to this file; a human summary still goes to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Treat warnings (stderr-panic) as findings for the exit code.
    #[arg(long)]
    pub strict: bool,

    /// No status line.
    #[arg(long)]
    pub quiet: bool,

    /// Stop once every oracle named has a confirmed finding (repeatable; for benchmarks).
    #[arg(long, value_name = "ORACLE", hide = true)]
    pub stop_on: Vec<String>,

    /// Measure the server's ceiling instead of fuzzing: pipelined pings for --time, 64
    /// to a write and then one write each, printed as JSON (for scripts/bench-fuzz.py).
    #[arg(long, hide = true)]
    pub ceiling: bool,

    /// Fuzz a Streamable HTTP endpoint instead of stdio. With a command after `--`,
    /// mcpspec starts a server for every connection: `{port}` in the URL and in the
    /// arguments, and the PORT environment variable, become a free loopback port.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// The server command and its arguments, after `--` (optional with --url).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A reproducer file written by `mcpspec fuzz`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Run it this many times (for flaky races); each try starts a fresh server.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub tries: u32,

    /// A request unanswered this long (while pings are answered) hangs.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub timeout: Duration,

    /// How long the server may take to answer initialize.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub init_timeout: Duration,

    /// Protocol revision requested in initialize (default: the one stored in the file).
    #[arg(long, value_parser = parse_revision)]
    pub spec: Option<Revision>,

    #[arg(long, value_name = "MB", default_value_t = 1024)]
    pub max_rss_mb: u64,

    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub rss_growth_mb: u64,

    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(8..=4096))]
    pub rss_window: u64,

    /// Longest stdout line accepted from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = mcpspec_harness::ndjson::DEFAULT_MAX_LINE)]
    pub max_line: usize,

    /// Replay over Streamable HTTP at this URL (with a command after `--`, a server is
    /// started for every try, `{port}` as in `fuzz --url`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// The server command, after `--` (default: the command stored in the file).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `--url` (and the command, when there is one) as a fuzz target's HTTP endpoint.
fn fuzz_endpoint(
    url: Option<&str>,
    has_command: bool,
) -> Result<Option<crate::fuzz::exec::HttpEndpoint>, String> {
    let Some(url) = url else {
        return Ok(None);
    };
    if !url.starts_with("http://") {
        return Err(format!("--url {url}: only http:// URLs are supported"));
    }
    if !has_command && url.contains("{port}") {
        return Err("--url has {port} but no command after `--` to start".into());
    }
    Ok(Some(crate::fuzz::exec::HttpEndpoint {
        url: url.to_string(),
        start: has_command,
    }))
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    crate::fuzz::parse_duration(s)
}

fn memory_limits(
    max_rss_mb: u64,
    growth_mb: u64,
    window: u64,
) -> crate::fuzz::oracles::MemoryLimits {
    crate::fuzz::oracles::MemoryLimits {
        max_rss_kb: max_rss_mb.saturating_mul(1024),
        growth_kb: growth_mb.saturating_mul(1024),
        window: window as usize,
    }
}

struct FuzzStatus {
    bar: indicatif::ProgressBar,
    tty: bool,
    quiet: bool,
}

impl crate::fuzz::Progress for FuzzStatus {
    fn started(&self, surface: &crate::fuzz::surface::Surface, seeds: usize, problems: &[String]) {
        if self.quiet {
            return;
        }
        for p in problems {
            self.line(&format!("mcpspec fuzz: skipped seed {p}"));
        }
        self.line(&format!(
            "mcpspec fuzz: server speaks {}; {}; {seeds} seed input(s)",
            if surface.protocol_version.is_empty() {
                "(no version)"
            } else {
                &surface.protocol_version
            },
            surface.describe()
        ));
    }

    fn finding(&self, f: &crate::fuzz::report::FindingRecord) {
        if self.quiet {
            return;
        }
        let kind = match f.severity {
            crate::fuzz::report::Severity::Failure => "finding",
            crate::fuzz::report::Severity::Warning => "warning",
        };
        self.line(&format!(
            "{kind}: {} — {} ({})",
            f.oracle,
            f.description,
            f.reproducer.as_deref().unwrap_or("reproducer not written")
        ));
    }
}

impl FuzzStatus {
    fn line(&self, text: &str) {
        if self.tty {
            self.bar.println(text);
        } else {
            eprintln!("{text}");
        }
    }
}

fn status_text(stats: &crate::fuzz::LiveStats) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let secs = stats.elapsed().as_secs_f64();
    let execs = stats.execs.load(Relaxed);
    let messages = stats.messages.load(Relaxed);
    let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    format!(
        "{:>5.0}s  {:>6.0} execs/s  {:>7.0} msgs/s  corpus {}  findings {}  restarts {}",
        secs,
        rate(execs),
        rate(messages),
        stats.corpus.load(Relaxed),
        stats.findings.load(Relaxed),
        stats.restarts.load(Relaxed)
    )
}

async fn fuzz(args: FuzzArgs) -> i32 {
    use crate::fuzz::exec::{Limits, Target};
    let http = match fuzz_endpoint(args.url.as_deref(), !args.command.is_empty()) {
        Ok(h) => h,
        Err(e) => return fail_usage(&e),
    };
    let command = match (CommandSpec::from_argv(&args.command), &http) {
        (Some(c), _) => c,
        // Nothing to start: the server at --url runs on its own.
        (None, Some(_)) => CommandSpec {
            program: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
        },
        (None, None) => return fail_usage(
            "no server command given; put it after `--`, e.g. mcpspec fuzz -- python3 server.py",
        ),
    };
    if !args.spec.is_session_era() {
        return fail_usage(&format!(
            "revision {} is not supported by `fuzz`; use one of 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25",
            args.spec
        ));
    }
    let mut process = mcpspec_harness::ProcessOptions {
        max_line: args.max_line,
        ..mcpspec_harness::ProcessOptions::default()
    };
    process.transcript_limit = 128 * 1024;
    let target = Target {
        command,
        process,
        revision: args.spec.to_string(),
        init_timeout: args.init_timeout,
        http,
    };
    let limits = Limits::new(args.timeout);
    if args.ceiling {
        let duration = args.time.unwrap_or(Duration::from_secs(10));
        // Pipelined 64 to a write, then the same flood one write per ping: the
        // second shows what a write (a read and a wake-up in the server) costs alone.
        let mut out = serde_json::Map::new();
        for (key, write_each) in [("pipelined", false), ("one_write_per_message", true)] {
            let c =
                match crate::fuzz::ceiling(&target, duration, 64, write_each, args.timeout).await {
                    Ok(c) => c,
                    Err(e) => return fail_usage(&e.to_string()),
                };
            let per_message = |ms: f64| ms * 1e3 / c.messages.max(1) as f64;
            out.insert(
                key.into(),
                serde_json::json!({
                    "messages": c.messages,
                    "seconds": c.elapsed.as_secs_f64(),
                    "messages_per_sec": c.messages as f64 / c.elapsed.as_secs_f64().max(1e-3),
                    "server_cpu_us_per_message": per_message(c.server_cpu_ms),
                    "mcpspec_cpu_us_per_message": per_message(c.own_cpu_ms),
                }),
            );
        }
        println!("{}", serde_json::Value::Object(out));
        return 0;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let budget = crate::fuzz::Budget {
        time: match (args.time, args.runs) {
            (None, None) => Some(Duration::from_secs(60)),
            (t, _) => t,
        },
        runs: args.runs,
    };
    if !args.quiet {
        eprintln!(
            "mcpspec fuzz: seed {seed} (repeat this run with --seed {seed}); findings go to {}",
            args.artifacts.display()
        );
    }
    let config = crate::fuzz::FuzzConfig {
        target,
        argv: args.command.clone(),
        limits,
        memory: memory_limits(args.max_rss_mb, args.rss_growth_mb, args.rss_window),
        seed,
        jobs: args.jobs as usize,
        budget,
        corpus_dir: args.corpus.clone(),
        artifacts: args.artifacts.clone(),
        allow_tools: args.allow_tool.clone(),
        minimise: crate::fuzz::finding::MinimiseBudget {
            attempts: 64,
            time: args.minimize_time,
        },
        shrink: !args.no_minimize,
        builtin_seeds: !args.no_builtin_seeds,
        stop_on: args.stop_on.clone(),
    };
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if tty && !args.quiet {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let stats = std::sync::Arc::new(crate::fuzz::LiveStats::default());
    let status = FuzzStatus {
        bar: bar.clone(),
        tty,
        quiet: args.quiet,
    };
    // The status line: redrawn on a TTY, a plain line every 10 s otherwise.
    let ticker = {
        let stats = stats.clone();
        let bar = bar.clone();
        let quiet = args.quiet;
        tokio::spawn(async move {
            let period = if tty {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(10)
            };
            let mut interval = tokio::time::interval(period);
            interval.tick().await;
            loop {
                interval.tick().await;
                if quiet {
                    continue;
                }
                if tty {
                    bar.set_message(status_text(&stats));
                    bar.tick();
                } else {
                    eprintln!("mcpspec fuzz: {}", status_text(&stats));
                }
            }
        })
    };
    let outcome = crate::fuzz::run(config, stats, &status).await;
    ticker.abort();
    bar.finish_and_clear();
    let report = match outcome {
        Ok(r) => r,
        Err(e) => return fail_usage(&e.to_string()),
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let render = |format: Format, color: bool| match format {
        Format::Human => report.human(color),
        Format::Json => report.to_json(),
        Format::Junit => report.junit(),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, render(args.format, false)) {
                return fail_usage(&format!("cannot write {}: {e}", path.display()));
            }
            print!("{}", report.human(color));
        }
        None => print!(
            "{}",
            render(args.format, color && args.format == Format::Human)
        ),
    }
    report.exit_code(args.strict)
}

async fn replay(args: ReplayArgs) -> i32 {
    use crate::fuzz::exec::{Limits, Target};
    use crate::fuzz::finding::Reproducer;
    let raw = match Reproducer::read_bounded(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => return fail_usage(&e),
    };
    // A raw libFuzzer artifact (server_stdio/server_http) is decoded once the server's
    // surface is known, below.
    let raw_artifact = crate::fuzz::libfuzzer::is_raw_artifact(&raw);
    let reproducer = if raw_artifact {
        Reproducer::seed(crate::fuzz::program::Program::new(Vec::new()))
    } else {
        match Reproducer::from_file_bytes(&raw, &args.file) {
            Ok(r) => r,
            Err(e) => return fail_usage(&e),
        }
    };
    let argv = if args.command.is_empty() && args.url.is_none() {
        reproducer.server.clone().unwrap_or_default()
    } else {
        args.command.clone()
    };
    let http = match fuzz_endpoint(args.url.as_deref(), !argv.is_empty()) {
        Ok(h) => h,
        Err(e) => return fail_usage(&e),
    };
    let command = match (CommandSpec::from_argv(&argv), &http) {
        (Some(c), _) => c,
        (None, Some(_)) => CommandSpec {
            program: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
        },
        (None, None) => {
            return fail_usage("no server command: put it after `--` (the file does not name one)")
        }
    };
    let revision = match (args.spec, reproducer.protocol_version.as_deref()) {
        (Some(r), _) => r,
        (None, Some(v)) => match Revision::parse(v) {
            Some(r) if r.is_session_era() => r,
            _ => {
                return fail_usage(&format!(
                    "the file asks for revision {v:?}, which `replay` does not speak; pass --spec"
                ))
            }
        },
        (None, None) => Revision::LATEST_SESSION,
    };
    let target = Target {
        command,
        process: mcpspec_harness::ProcessOptions {
            max_line: args.max_line,
            ..mcpspec_harness::ProcessOptions::default()
        },
        revision: revision.to_string(),
        init_timeout: args.init_timeout,
        http,
    };
    let memory = memory_limits(args.max_rss_mb, args.rss_growth_mb, args.rss_window);
    let mut reproducer = reproducer;
    if raw_artifact {
        let limits = Limits::new(args.timeout);
        match crate::fuzz::libfuzzer::program_from_artifact(&target, &raw, &limits).await {
            Ok(program) => reproducer.steps = program.steps,
            Err(e) => return fail_usage(&e.to_string()),
        }
    }
    let outcome = crate::fuzz::finding::replay(
        &target,
        &reproducer,
        args.tries,
        &Limits::new(args.timeout),
        &memory,
    )
    .await;
    let result = match outcome {
        Ok(r) => r,
        Err(e) => return fail_usage(&e.to_string()),
    };
    let what = reproducer
        .oracle
        .clone()
        .unwrap_or_else(|| "any oracle".to_string());
    if result.fired > 0 {
        println!(
            "{what} fired {} of {} tries: {}",
            result.fired,
            result.tries,
            result.description.as_deref().unwrap_or("")
        );
    } else {
        println!("{what} did not fire (0 of {} tries)", result.tries);
    }
    if !result.others.is_empty() {
        println!("also fired: {}", result.others.join(", "));
    }
    if result.fired > 0 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::url_usage;
    use crate::spec::Revision;

    #[test]
    fn url_usage_checks_scheme_then_revision_then_port() {
        let old = Some(Revision::V2024_11_05);
        let new = Some(Revision::V2025_03_26);
        assert_eq!(
            url_usage("url", "https://h/mcp", old, false).as_deref(),
            Some("--url https://h/mcp: only http:// URLs are supported")
        );
        assert_eq!(
            url_usage("url", "http://h:{port}/mcp", old, false).as_deref(),
            Some("--spec 2024-11-05: Streamable HTTP exists from 2025-03-26 on")
        );
        assert_eq!(
            url_usage("url", "http://h:{port}/mcp", new, false).as_deref(),
            Some("--url has {port} but no command after `--` to start")
        );
        assert_eq!(url_usage("url", "http://h:{port}/mcp", new, true), None);
        // Legacy SSE exists in every revision: no revision check.
        assert_eq!(url_usage("sse", "http://h/sse", None, false), None);
        assert_eq!(
            url_usage("sse", "http://h:{port}/sse", None, false).as_deref(),
            Some("--sse has {port} but no command after `--` to start")
        );
    }
}
