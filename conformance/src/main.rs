use clap::Parser;
use mcpspec::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
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
