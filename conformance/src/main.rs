use clap::error::ErrorKind;
use clap::Parser;
use mcpspec::cli::{self, Cli};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpspec: error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = cli::main(cli) => code,
            _ = interrupted() => {
                // No server may outlive us, whatever state the run is in.
                mcpspec_harness::kill_all_children();
                eprintln!("mcpspec: interrupted; every server process was killed");
                130
            }
        }
    });
    mcpspec_harness::kill_all_children();
    // Leave without waiting for background tasks still blocked on dead pipes.
    runtime.shutdown_background();
    std::process::exit(code);
}

async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Help and version go out as clap renders them; every other parse error becomes one
/// line on stderr and exit code 2, as for every other usage error of mcpspec.
fn usage_error(e: clap::Error) -> ! {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("mcpspec: error: {first} (see mcpspec --help)");
            std::process::exit(2);
        }
    }
}
