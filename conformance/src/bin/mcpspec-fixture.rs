//! `mcpspec-fixture`: the deliberately faulty MCP test server (stdio).
//!
//! Arguments are parsed by hand: there are three flags, and the fixture stays
//! free of CLI dependencies.

use mcpspec::fixture::{run_stdio, Fault};
use std::io::Write;

const USAGE: &str = "\
mcpspec-fixture: a small MCP server over stdio for proving conformance cases.

Usage:
  mcpspec-fixture [--fault NAME]   serve MCP on stdin/stdout, optionally with one deliberate bug
  mcpspec-fixture --list-faults    print every fault as NAME<TAB>description
  mcpspec-fixture --help           print this help
";

enum Command {
    Serve(Option<Fault>),
    ListFaults,
    Help,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut fault = None;
    let mut list = false;
    while let Some(arg) = args.next() {
        let name = match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
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
    Ok(if list {
        Command::ListFaults
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
