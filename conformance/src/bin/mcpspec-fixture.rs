//! `mcpspec-fixture`: the deliberately faulty MCP test server (stdio).
//!
//! Arguments are parsed by hand: there are three flags, and the fixture stays
//! free of CLI dependencies.

use mcpspec::fixture::{run_both, run_http, run_legacy_sse, run_stdio, Fault};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

const USAGE: &str = "\
mcpspec-fixture: a small MCP server over stdio for proving conformance cases.

Usage:
  mcpspec-fixture [--fault NAME]   serve MCP on stdin/stdout, optionally with one deliberate bug
  mcpspec-fixture --http 127.0.0.1:PORT [--fault NAME]
                                   serve Streamable HTTP at http://127.0.0.1:PORT/mcp (loopback only)
  mcpspec-fixture --port PORT [--fault NAME]
                                   the same on 127.0.0.1:PORT
  mcpspec-fixture --sse --port PORT [--fault NAME]
                                   serve the legacy HTTP+SSE transport (2024-11-05) instead:
                                   GET http://127.0.0.1:PORT/sse, POST /messages?session_id=...
  mcpspec-fixture --both --port PORT [--fault NAME]
                                   serve both on one port: Streamable HTTP at /mcp and the
                                   legacy HTTP+SSE transport at /sse (SSE-008)
  mcpspec-fixture --list-faults    print every fault as NAME<TAB>description
  mcpspec-fixture --help           print this help
";

enum Command {
    Serve(Option<Fault>),
    ServeHttp(Option<Fault>, SocketAddr),
    ServeLegacySse(Option<Fault>, SocketAddr),
    ServeBoth(Option<Fault>, SocketAddr),
    ListFaults,
    Help,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut fault = None;
    let mut list = false;
    let mut http: Option<SocketAddr> = None;
    let mut sse = false;
    let mut both = false;
    while let Some(arg) = args.next() {
        let name = match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--http" => {
                let text = args
                    .next()
                    .ok_or("--http needs an address like 127.0.0.1:8080")?;
                let addr: SocketAddr = text
                    .parse()
                    .map_err(|_| format!("--http {text}: not an address like 127.0.0.1:8080"))?;
                if !addr.ip().is_loopback() {
                    return Err(format!(
                        "--http {text}: only loopback addresses are allowed"
                    ));
                }
                http = Some(addr);
                continue;
            }
            "--port" => {
                let text = args.next().ok_or("--port needs a number")?;
                let port: u16 = text
                    .parse()
                    .map_err(|_| format!("--port {text}: not a port number"))?;
                http = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
                continue;
            }
            "--sse" => {
                sse = true;
                continue;
            }
            "--both" => {
                both = true;
                continue;
            }
            "--list-faults" => {
                list = true;
                continue;
            }
            "--fault" => args.next().ok_or(
                "--fault needs a fault name; run `mcpspec-fixture --list-faults` to see them",
            )?,
            other => match other.strip_prefix("--fault=") {
                Some(name) => name.to_string(),
                None => {
                    return Err(format!(
                        "unknown argument '{other}'; run `mcpspec-fixture --help` for usage"
                    ))
                }
            },
        };
        if fault.is_some() {
            return Err("only one --fault may be given".to_string());
        }
        fault = Some(Fault::from_name(&name).ok_or_else(|| {
            format!("unknown fault '{name}'; run `mcpspec-fixture --list-faults` to see the valid names")
        })?);
    }
    if (sse || both) && http.is_none() {
        return Err("--sse and --both need --port PORT (or --http 127.0.0.1:PORT)".to_string());
    }
    if sse && both {
        return Err("--both already serves the legacy SSE transport; drop --sse".to_string());
    }
    Ok(if list {
        Command::ListFaults
    } else if let (true, Some(addr)) = (both, http) {
        Command::ServeBoth(fault, addr)
    } else if let (true, Some(addr)) = (sse, http) {
        Command::ServeLegacySse(fault, addr)
    } else if let Some(addr) = http {
        Command::ServeHttp(fault, addr)
    } else {
        Command::Serve(fault)
    })
}

/// Writes to stdout, ignoring errors such as a closed pipe (`| head`).
fn print_stdout(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn main() {
    let code = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print_stdout(USAGE);
            0
        }
        Ok(Command::ListFaults) => {
            let listing: String = Fault::ALL
                .iter()
                .map(|fault| format!("{}\t{}\n", fault.name(), fault.description()))
                .collect();
            print_stdout(&listing);
            0
        }
        Ok(Command::ServeHttp(fault, addr)) => match run_http(fault, addr) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("mcpspec-fixture: {error}");
                1
            }
        },
        Ok(Command::ServeBoth(fault, addr)) => match run_both(fault, addr) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("mcpspec-fixture: {error}");
                1
            }
        },
        Ok(Command::ServeLegacySse(fault, addr)) => match run_legacy_sse(fault, addr) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("mcpspec-fixture: {error}");
                1
            }
        },
        Ok(Command::Serve(fault)) => match run_stdio(fault) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("mcpspec-fixture: {error}");
                1
            }
        },
        Err(message) => {
            eprintln!("mcpspec-fixture: {message}");
            2
        }
    };
    std::process::exit(code);
}
