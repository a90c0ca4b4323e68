//! `mcpspec fuzz` against the fixture: every oracle is proven by the fault it must
//! find, the clean fixture gives no finding in the same budget, a saved reproducer
//! replays, and minimisation shrinks.
//!
//! Runs are bounded by a fixed seed and a number of inputs, and stop early once the
//! expected oracles fired. The faults run concurrently to keep the wall time short.

use mcpspec::fuzz::exec::{Limits, Target};
use mcpspec::fuzz::finding::{minimise, replay, MinimiseBudget, Reproducer};
use mcpspec::fuzz::oracles::MemoryLimits;
use mcpspec::fuzz::program::{Program, Step};
use mcpspec::fuzz::report::FuzzReport;
use mcpspec::fuzz::{run, Budget, FuzzConfig, LiveStats, NoProgress};
use mcpspec_harness::ProcessOptions;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const SEED: u64 = 7;
const RUNS: u64 = 600;

fn target(fault: Option<&str>) -> Target {
    Target {
        command: crate::common::fixture_command(fault),
        process: ProcessOptions::default(),
        revision: "2025-11-25".into(),
        init_timeout: Duration::from_secs(20),
    }
}

fn limits() -> Limits {
    Limits::new(Duration::from_secs(2))
}

/// Tighter than the CLI defaults so a leak of 256 KiB per request shows in a short run.
fn memory() -> MemoryLimits {
    MemoryLimits {
        max_rss_kb: 1024 * 1024,
        growth_kb: 24 * 1024,
        window: 48,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpspec-fuzz-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn fuzz_fixture(fault: Option<&'static str>, stop_on: &[&str]) -> FuzzReport {
    let artifacts = scratch(fault.unwrap_or("clean"));
    let target = target(fault);
    let config = FuzzConfig {
        argv: vec![target.command.display()],
        target,
        limits: limits(),
        memory: memory(),
        seed: SEED,
        jobs: 1,
        budget: Budget {
            // A safety net only: the input count bounds the run.
            time: Some(Duration::from_secs(60)),
            runs: Some(RUNS),
        },
        corpus_dir: None,
        artifacts: artifacts.clone(),
        allow_tools: Vec::new(),
        minimise: MinimiseBudget {
            attempts: 4,
            time: Duration::from_secs(5),
        },
        shrink: false,
        builtin_seeds: true,
        stop_on: stop_on.iter().map(|s| s.to_string()).collect(),
    };
    let report = run(config, Arc::new(LiveStats::default()), &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("fuzzing the fixture ({fault:?}) did not start: {e}"));
    let _ = std::fs::remove_dir_all(&artifacts);
    report
}

/// Each fault and the oracles that must find it.
const EXPECTATIONS: &[(&str, &[&str])] = &[
    ("read-per-chunk", &["lost-response"]),
    ("utf8-per-chunk", &["mismatched-id"]),
    ("line-limit-64k", &["hang"]),
    ("interleave-writes", &["framing"]),
    ("swap-ids-under-load", &["mismatched-id"]),
    ("lose-responses-under-load", &["lost-response"]),
    ("duplicate-responses", &["duplicate-response"]),
    ("log-to-stdout", &["stdout-pollution"]),
    ("crash-on-malformed", &["crash", "stderr-panic"]),
    ("stop-reading-after-malformed", &["liveness"]),
    ("never-answer", &["hang"]),
    ("memory-leak", &["memory"]),
    ("string-error-code", &["invalid-message"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oracle_is_proven_by_its_fault_and_silent_on_the_clean_fixture() {
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut set = tokio::task::JoinSet::new();
    for &(fault, oracles) in EXPECTATIONS {
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (
                Some(fault),
                oracles,
                fuzz_fixture(Some(fault), oracles).await,
            )
        });
    }
    set.spawn(async move {
        let _permit = limit.acquire_owned().await;
        (None, &[][..], fuzz_fixture(None, &[]).await)
    });
    let mut problems = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (fault, oracles, report) = joined.expect("fuzz task panicked");
        let found: Vec<&str> = report.findings.iter().map(|f| f.oracle.as_str()).collect();
        match fault {
            None => {
                if !report.findings.is_empty() {
                    let what: Vec<String> = report
                        .findings
                        .iter()
                        .map(|f| format!("{}: {}", f.signature, f.description))
                        .collect();
                    problems.push(format!("clean fixture: findings {what:?}"));
                }
                if report.stats.execs < RUNS {
                    problems.push(format!(
                        "clean fixture: only {} of {RUNS} inputs ran",
                        report.stats.execs
                    ));
                }
            }
            Some(fault) => {
                for oracle in oracles {
                    if !found.contains(oracle) {
                        problems.push(format!(
                            "fault {fault}: oracle {oracle} did not fire in {} inputs (found {found:?})",
                            report.stats.execs
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A ping cut in two, among other messages: what `read-per-chunk` loses.
fn split_ping_program() -> Program {
    let ping = |id: &str| json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
    let mut split = Step::json(ping("fz-000000003"));
    split.split = vec![12];
    split.delay_ms = 5;
    let mut list =
        Step::json(json!({"jsonrpc": "2.0", "id": "fz-000000002", "method": "tools/list"}));
    list.delay_ms = 3;
    Program::new(vec![
        Step::json(ping("fz-000000001")),
        list,
        split,
        Step::json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
        Step::json(json!({"jsonrpc": "2.0", "id": "fz-000000004", "method": "resources/list"})),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimisation_shrinks_and_the_reproducer_replays() {
    let faulty = target(Some("read-per-chunk"));
    let program = split_ping_program();
    let shrunk = minimise(
        &faulty,
        &program,
        "lost-response",
        None,
        &limits(),
        &memory(),
        MinimiseBudget {
            attempts: 40,
            time: Duration::from_secs(60),
        },
        true,
    )
    .await;
    assert!(shrunk.reproduced, "the split ping was not lost");
    // One message remains: the ping cut in two, or (when the race allows) a whole
    // message sharing a read with the ping that follows every input, which the fault
    // loses just as well.
    assert_eq!(
        shrunk.program.steps.len(),
        1,
        "one step should remain: {:?}",
        shrunk.program.steps
    );

    let mut reproducer = Reproducer::seed(shrunk.program.clone());
    reproducer.oracle = Some("lost-response".into());
    let dir = scratch("replay");
    let path = reproducer.save(&dir).expect("reproducer written");
    assert!(path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("lost-response-") && n.ends_with(".json")));
    let loaded = Reproducer::load(&path).expect("reproducer reads back");
    let fired = replay(&faulty, &loaded, 3, &limits(), &memory())
        .await
        .expect("replay starts");
    assert!(fired.fired >= 1, "{fired:?}");
    let clean = replay(&target(None), &loaded, 1, &limits(), &memory())
        .await
        .expect("replay starts");
    assert_eq!(clean.fired, 0, "{clean:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
