//! Driving a real server from libFuzzer (`fuzz/fuzz_targets/server_stdio.rs` and
//! `server_http.rs`): the fuzz targets are thin shims over [`fuzz_stdio`] and
//! [`fuzz_http`].
//!
//! One server stays alive across inputs in a process-wide driver. libFuzzer's bytes
//! are decoded with [`input::from_bytes`] (the same `arbitrary` plans the engine
//! draws), run with the engine's executor and judged by the same oracles. A firing
//! that reproduces in a fresh server panics with one line and the reproducer JSON, so
//! libFuzzer saves the bytes as a crash artifact, minimises it (`-minimize_crash=1`)
//! and runs in `-fork` mode or under ClusterFuzzLite. `mcpspec replay ARTIFACT -- CMD`
//! accepts such raw artifacts as well as reproducer files.
//!
//! Long local run (the fixture as the server; any server command works):
//!
//! ```text
//! cargo build --release --bin mcpspec-fixture
//! cd fuzz && MCPSPEC_SERVER_CMD="$PWD/../target/release/mcpspec-fixture --fault read-per-chunk" \
//!   cargo +nightly fuzz run server_stdio ../corpus/server_stdio -- -fork=2 -max_total_time=3600
//! ```

use super::exec::{HttpEndpoint, KnownHangs, Limits, OpenError, Target};
use super::finding::{run_fresh, Reproducer};
use super::input;
use super::oracles::{judge, Firing, MemoryLimits};
use super::program::{IdAllocator, Program};
use super::surface::Surface;
use crate::fuzz::exec::Conn;
use mcpspec_harness::{CommandSpec, ProcessOptions};
use std::sync::Mutex;
use std::time::Duration;

/// A firing of an oracle on one input, confirmed in a fresh server.
#[derive(Debug, Clone)]
pub struct Failure {
    pub firing: Firing,
    pub program: Program,
}

impl Failure {
    /// One line for humans, then the reproducer file's JSON.
    pub fn report(&self, target: &Target) -> String {
        let mut reproducer = Reproducer::seed(self.program.clone());
        reproducer.oracle = Some(self.firing.oracle.to_string());
        reproducer.signature = Some(self.firing.signature.clone());
        reproducer.description = Some(self.firing.description.clone());
        if !target.command.program.is_empty() {
            let mut argv = vec![target.command.program.clone()];
            argv.extend(target.command.args.iter().cloned());
            reproducer.server = Some(argv);
        }
        reproducer.protocol_version = Some(target.revision.clone());
        reproducer.reproduced = Some(true);
        format!(
            "mcpspec: {} — {}\n{}",
            self.firing.signature,
            self.firing.description,
            reproducer.to_json()
        )
    }
}

/// One server kept alive across inputs, with what is needed to run them.
pub struct Driver {
    runtime: tokio::runtime::Runtime,
    pub target: Target,
    pub surface: Surface,
    conn: Option<Conn>,
    alloc: IdAllocator,
    hangs: KnownHangs,
    pub limits: Limits,
    pub memory: MemoryLimits,
}

impl Driver {
    /// Start the server, complete the handshake and learn its surface.
    pub fn new(target: Target, limits: Limits) -> Result<Driver, OpenError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| OpenError::Http(format!("no async runtime: {e}")))?;
        let (conn, surface) = runtime.block_on(async {
            let conn = target.open().await?;
            let surface = Surface::learn(&conn.session, &conn.handshake, &[], limits.timeout).await;
            Ok::<_, OpenError>((conn, surface))
        })?;
        Ok(Driver {
            runtime,
            target,
            surface,
            conn: Some(conn),
            alloc: IdAllocator::default(),
            hangs: KnownHangs::default(),
            limits,
            memory: MemoryLimits::default(),
        })
    }

    /// The program these bytes stand for.
    pub fn program(&mut self, bytes: &[u8]) -> Program {
        input::from_bytes(bytes, &self.surface, &mut self.alloc)
    }

    /// Run one input on the live server (restarting it when the last input ended it).
    /// An oracle that fires is confirmed in a fresh server before it is reported, so a
    /// failure belongs to these bytes alone.
    pub fn run(&mut self, bytes: &[u8]) -> Option<Failure> {
        let program = self.program(bytes);
        let target = self.target.clone();
        let limits = self.limits.clone();
        let memory = self.memory.clone();
        let hangs = self.hangs.clone();
        let mut conn = self.conn.take();
        let (conn, failure) = self.runtime.block_on(async move {
            let mut live = match conn.take() {
                Some(c) if !c.dead => c,
                old => {
                    if let Some(old) = old {
                        old.kill();
                    }
                    match target.open().await {
                        Ok(c) => c,
                        // A server that no longer starts is the input's doing only if
                        // it started before; report it as a crash of the last input.
                        Err(e) => panic!("mcpspec: the server does not start again: {e}"),
                    }
                }
            };
            let obs = live.run(&program, &limits, &hangs).await;
            let firings: Vec<Firing> = judge(&obs, &live.rss, &memory)
                .into_iter()
                .filter(|f| !f.is_warning())
                .collect();
            let mut failure = None;
            for firing in firings {
                let confirmed = run_fresh(&target, &program, &limits, &memory, Some(firing.oracle))
                    .await
                    .ok()
                    .and_then(|run| run.fired(firing.oracle).cloned());
                if let Some(fired) = confirmed {
                    failure = Some(Failure {
                        firing: fired,
                        program: program.clone(),
                    });
                    break;
                }
            }
            (live, failure)
        });
        self.conn = Some(conn);
        failure
    }

    /// Run one input; panic (for libFuzzer) when an oracle fires.
    pub fn fuzz_one(&mut self, bytes: &[u8]) {
        if let Some(failure) = self.run(bytes) {
            let text = failure.report(&self.target);
            if let Some(c) = &self.conn {
                c.kill();
            }
            mcpspec_harness::kill_all_children();
            panic!("{text}");
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            c.kill();
        }
    }
}

/// Whether a file is a raw libFuzzer input rather than a reproducer file: anything
/// that is not a JSON object naming the reproducer format.
pub fn is_raw_artifact(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("format").cloned())
        .is_none()
}

/// The program a raw libFuzzer input stands for on this server: its surface is learnt
/// as the fuzz target learnt it, then the bytes are decoded.
pub async fn program_from_artifact(
    target: &Target,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Program, OpenError> {
    let conn = target.open().await?;
    let surface = Surface::learn(&conn.session, &conn.handshake, &[], limits.timeout).await;
    conn.kill();
    Ok(input::from_bytes(
        bytes,
        &surface,
        &mut IdAllocator::default(),
    ))
}

/// Deadlines for libFuzzer runs: a hang must show well inside libFuzzer's own
/// `-timeout` (default 1200 s, usually set lower).
fn driver_limits() -> Limits {
    let secs = std::env::var("MCPSPEC_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(2);
    Limits::new(Duration::from_secs(secs.max(1)))
}

/// The stdio target named by `MCPSPEC_SERVER_CMD`, if set.
pub fn stdio_target_from_env() -> Option<Target> {
    let line = std::env::var("MCPSPEC_SERVER_CMD").ok()?;
    let argv = shlex::split(&line).filter(|a| !a.is_empty())?;
    Some(Target {
        command: CommandSpec::from_argv(&argv)?,
        process: ProcessOptions::default(),
        revision: revision_from_env(),
        init_timeout: Duration::from_secs(30),
        http: None,
    })
}

/// The HTTP target named by `MCPSPEC_SERVER_URL` (and `MCPSPEC_SERVER_CMD` to start
/// it, `{port}` substituted as with `fuzz --url`), if set.
pub fn http_target_from_env() -> Option<Target> {
    let url = std::env::var("MCPSPEC_SERVER_URL").ok()?;
    let argv = std::env::var("MCPSPEC_SERVER_CMD")
        .ok()
        .and_then(|l| shlex::split(&l))
        .unwrap_or_default();
    let command = CommandSpec::from_argv(&argv).unwrap_or(CommandSpec {
        program: String::new(),
        args: Vec::new(),
        env: Vec::new(),
        cwd: None,
    });
    Some(Target {
        http: Some(HttpEndpoint {
            url,
            start: !argv.is_empty(),
        }),
        command,
        process: ProcessOptions::default(),
        revision: revision_from_env(),
        init_timeout: Duration::from_secs(30),
    })
}

fn revision_from_env() -> String {
    std::env::var("MCPSPEC_SPEC").unwrap_or_else(|_| "2025-11-25".to_string())
}

/// The process-wide driver of a fuzz target: started on the first input, `None` when
/// the environment names no server (the target then does nothing).
fn with_driver(
    slot: &'static Mutex<Option<Option<Driver>>>,
    target: fn() -> Option<Target>,
    bytes: &[u8],
) {
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    let driver = guard.get_or_insert_with(|| {
        let target = target()?;
        match Driver::new(target.clone(), driver_limits()) {
            Ok(d) => Some(d),
            Err(e) => panic!("mcpspec: cannot start {}: {e}", target.display()),
        }
    });
    if let Some(driver) = driver.as_mut() {
        driver.fuzz_one(bytes);
    }
}

static STDIO_DRIVER: Mutex<Option<Option<Driver>>> = Mutex::new(None);
static HTTP_DRIVER: Mutex<Option<Option<Driver>>> = Mutex::new(None);

/// Body of `server_stdio`: the server from `MCPSPEC_SERVER_CMD`; without it, nothing.
pub fn fuzz_stdio(bytes: &[u8]) {
    with_driver(&STDIO_DRIVER, stdio_target_from_env, bytes);
}

/// Body of `server_http`: the endpoint from `MCPSPEC_SERVER_URL`; without it, nothing.
pub fn fuzz_http(bytes: &[u8]) {
    with_driver(&HTTP_DRIVER, http_target_from_env, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_decode_to_the_same_program() {
        let surface = Surface::default();
        for bytes in [
            &b""[..],
            b"\x00",
            b"\xff\xff\xff",
            b"hello world, some bytes",
        ] {
            let a = input::from_bytes(bytes, &surface, &mut IdAllocator::default());
            let b = input::from_bytes(bytes, &surface, &mut IdAllocator::default());
            assert_eq!(a, b);
            assert!(!a.steps.is_empty());
        }
    }
}
