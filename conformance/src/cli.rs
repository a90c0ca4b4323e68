//! Command-line interface: `mcpspec check` and `mcpspec list`.

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

    /// Seconds to wait for each response.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub timeout: f64,

    /// Seconds to wait for the first initialize answer (slow starters like npx need more).
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_seconds)]
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

    /// The server command and its arguments, after `--` (optional with --url).
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

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

/// Run the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::List(args) => list(&args),
        Command::Check(args) => check(args).await,
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
                .println(format!("{} {}", record.outcome.as_str(), record.id));
        }
        self.0.set_message(record.id.clone());
        self.0.inc(1);
    }
}

async fn check(args: CheckArgs) -> i32 {
    let command = CommandSpec::from_argv(&args.command);
    let mut config = match (&args.url, command) {
        (None, None) => {
            return fail_usage(
                "no server command given; put it after `--`, e.g. mcpspec check -- python3 server.py",
            )
        }
        (None, Some(target)) => RunConfig::new(target, args.spec),
        (Some(url), command) => {
            if !url.starts_with("http://") {
                return fail_usage(&format!("--url {url}: only http:// URLs are supported"));
            }
            if command.is_none() && url.contains("{port}") {
                return fail_usage("--url has {port} but no command after `--` to start");
            }
            RunConfig::http(url, command, args.spec)
        }
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
    if runner::select(&catalogue, args.spec, transport, &selection).is_empty() {
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
