//! `mcpspec fuzz` against the fixture: every oracle is proven by the fault it must
//! find, the clean fixture gives no finding in the same budget, a saved reproducer
//! replays, and minimisation shrinks.
//!
//! Runs are bounded by a fixed seed and a number of inputs, and stop early once the
//! expected oracles fired. The faults run concurrently to keep the wall time short.

use mcpspec::fuzz::exec::{HttpEndpoint, Limits, Target};
use mcpspec::fuzz::finding::{minimise, replay, MinimiseBudget, Reproducer, Shrunk};
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

/// The campaigns in this file run one at a time: each judges timing (pings, probes,
/// hangs) and the reproducibility test needs a server whose races do not depend on
/// other campaigns loading the machine.
static CAMPAIGN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const RUNS: u64 = 600;

fn target(fault: Option<&str>) -> Target {
    Target {
        command: crate::common::fixture_command(fault),
        process: ProcessOptions::default(),
        revision: "2025-11-25".into(),
        init_timeout: Duration::from_secs(20),
        http: None,
    }
}

fn limits() -> Limits {
    Limits::new(Duration::from_secs(2))
}

/// Tighter than the CLI defaults so a leak of 256 KiB per request shows in a short run
/// (the window counts inputs; it takes at least four runs of one process, and a run is
/// mostly a batch of up to 16 inputs).
fn memory() -> MemoryLimits {
    MemoryLimits {
        max_rss_kb: 1024 * 1024,
        growth_kb: 24 * 1024,
        window: 24,
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
    let _campaign = CAMPAIGN.lock().await;
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

/// A request with array params (what `crash-on-malformed` dies of), split and
/// delayed, among other messages: the crash needs none of the rest. A deterministic
/// fault, so that what is asserted does not depend on how loaded the machine is (a
/// racy fault such as `read-per-chunk` shrinks to different programs from run to run).
fn malformed_among_others() -> Program {
    let ping = |id: &str| json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
    let mut malformed = Step::json(
        json!({"jsonrpc": "2.0", "id": "fz-000000003", "method": "tools/list", "params": [1]}),
    );
    malformed.split = vec![12];
    malformed.delay_ms = 5;
    let mut list =
        Step::json(json!({"jsonrpc": "2.0", "id": "fz-000000002", "method": "tools/list"}));
    list.delay_ms = 3;
    Program::new(vec![
        Step::json(ping("fz-000000001")),
        list,
        malformed,
        Step::json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
        Step::json(json!({"jsonrpc": "2.0", "id": "fz-000000004", "method": "resources/list"})),
    ])
}

/// Minimise `program`, which crashes `crash-on-malformed`, within `time`.
async fn minimise_crash(program: &Program, time: Duration) -> Shrunk {
    let faulty = target(Some("crash-on-malformed"));
    let budget = MinimiseBudget {
        attempts: 120,
        time,
    };
    minimise(
        &faulty,
        program,
        "crash",
        None,
        &limits(),
        &memory(),
        budget,
        true,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimisation_shrinks_and_the_reproducer_replays() {
    let _campaign = CAMPAIGN.lock().await;
    let faulty = target(Some("crash-on-malformed"));
    let program = malformed_among_others();
    // Each kept shrink runs twice, and a loaded 2-core CI machine is slow.
    let shrunk = minimise_crash(&program, Duration::from_secs(180)).await;
    assert!(shrunk.reproduced, "the crash was not confirmed");
    // The malformed request alone, delivered whole and at once.
    let [only] = shrunk.program.steps.as_slice() else {
        panic!("one step should remain: {:?}", shrunk.program.steps);
    };
    assert_eq!(
        only.json.as_ref().and_then(|v| v.get("params")),
        Some(&json!([1]))
    );
    assert!(only.split.is_empty() && only.delay_ms == 0, "{only:?}");
    assert!(!shrunk.cut_short);

    let mut reproducer = Reproducer::seed(shrunk.program.clone());
    reproducer.oracle = Some("crash".into());
    let dir = scratch("replay");
    let path = reproducer.save(&dir).expect("reproducer written");
    assert!(path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("crash-") && n.ends_with(".json")));
    let loaded = Reproducer::load(&path).expect("reproducer reads back");
    let fired = replay(&faulty, &loaded, 2, &limits(), &memory())
        .await
        .expect("replay starts");
    assert_eq!(fired.fired, 2, "{fired:?}");
    let clean = replay(&target(None), &loaded, 1, &limits(), &memory())
        .await
        .expect("replay starts");
    assert_eq!(clean.fired, 0, "{clean:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With no minimisation time left (a finding made as `--time` runs out) the finding
/// is still confirmed by one run in a fresh process, and kept whole, marked cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_time_left_a_finding_is_confirmed_once_and_kept_whole() {
    let _campaign = CAMPAIGN.lock().await;
    let program = malformed_among_others();
    let shrunk = minimise_crash(&program, Duration::ZERO).await;
    assert!(shrunk.reproduced, "the crash was not confirmed");
    assert_eq!(shrunk.attempts, 1, "only the confirming run fits");
    assert!(shrunk.cut_short);
    assert_eq!(shrunk.program, program, "nothing may be shrunk");
}

/// The fixture over Streamable HTTP: the fuzzer starts `mcpspec-fixture --port {port}`
/// for every connection.
fn http_target(fault: Option<&str>) -> Target {
    let mut argv = vec![
        env!("CARGO_BIN_EXE_mcpspec-fixture").to_string(),
        "--port".to_string(),
        "{port}".to_string(),
    ];
    if let Some(f) = fault {
        argv.push("--fault".into());
        argv.push(f.into());
    }
    Target {
        command: mcpspec_harness::CommandSpec::from_argv(&argv).expect("argv"),
        process: ProcessOptions::default(),
        revision: "2025-11-25".into(),
        init_timeout: Duration::from_secs(20),
        http: Some(HttpEndpoint {
            url: "http://127.0.0.1:{port}/mcp".into(),
            start: true,
        }),
    }
}

const HTTP_RUNS: u64 = 300;

async fn fuzz_http(fault: Option<&str>, stop_on: &[&str], artifacts: PathBuf) -> FuzzReport {
    let target = http_target(fault);
    let config = FuzzConfig {
        argv: vec![target.display()],
        target,
        limits: limits(),
        memory: memory(),
        seed: SEED,
        jobs: 1,
        budget: Budget {
            time: Some(Duration::from_secs(90)),
            runs: Some(HTTP_RUNS),
        },
        corpus_dir: None,
        artifacts,
        allow_tools: Vec::new(),
        minimise: MinimiseBudget {
            attempts: 4,
            time: Duration::from_secs(5),
        },
        shrink: false,
        builtin_seeds: true,
        stop_on: stop_on.iter().map(|s| s.to_string()).collect(),
    };
    run(config, Arc::new(LiveStats::default()), &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("fuzzing the HTTP fixture ({fault:?}) did not start: {e}"))
}

/// Over HTTP the same oracles apply: a POST body delivered in pieces is lost by
/// `http-split-body-first-read`, the finding replays over HTTP, and the clean HTTP
/// fixture gives no finding in the same budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_fault_is_found_and_replayed_and_the_clean_http_fixture_is_silent() {
    let _campaign = CAMPAIGN.lock().await;
    let artifacts = scratch("http-split-body");
    let faulty = tokio::spawn(fuzz_http(
        Some("http-split-body-first-read"),
        &["lost-response"],
        artifacts.clone(),
    ));
    let clean = tokio::spawn(fuzz_http(None, &[], scratch("http-clean")));
    let faulty = faulty.await.expect("fuzz task");
    let clean = clean.await.expect("fuzz task");

    assert_eq!(faulty.subject.transport, "streamable-http");
    // The fault is a race (the body must arrive in a read of its own): replay a
    // finding that was confirmed in a fresh server, with tries to spare.
    let confirmed = |f: &&mcpspec::fuzz::report::FindingRecord| f.reproduced;
    let finding = faulty
        .findings
        .iter()
        .filter(confirmed)
        .find(|f| f.signature == "lost-response split")
        .or_else(|| {
            faulty
                .findings
                .iter()
                .filter(confirmed)
                .find(|f| f.oracle == "lost-response")
        })
        .unwrap_or_else(|| {
            panic!(
                "lost-response did not fire over HTTP in {} inputs: {:?}",
                faulty.stats.execs,
                faulty
                    .findings
                    .iter()
                    .map(|f| &f.signature)
                    .collect::<Vec<_>>()
            )
        });
    let path = finding.reproducer.clone().expect("reproducer written");
    let reproducer = Reproducer::load(std::path::Path::new(&path)).expect("reproducer loads");
    let replayed = replay(
        &http_target(Some("http-split-body-first-read")),
        &reproducer,
        30,
        &limits(),
        &memory(),
    )
    .await
    .expect("replay starts");
    assert!(replayed.fired >= 1, "{replayed:?}");

    let what: Vec<String> = clean
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.signature, f.description))
        .collect();
    assert!(what.is_empty(), "clean HTTP fixture: findings {what:?}");
    assert!(
        clean.stats.execs >= HTTP_RUNS,
        "clean HTTP fixture: only {} of {HTTP_RUNS} inputs ran",
        clean.stats.execs
    );
    let _ = std::fs::remove_dir_all(&artifacts);
}

/// The HTTP-only delivery schedules and the fault only each of them reveals: the
/// oracles that must fire, and the schedule the reproducer must use.
const HTTP_SCHEDULES: &[(&str, &[&str], &str)] = &[
    // A POST body that ends before its Content-Length kills the process.
    ("http-truncated-body-crash", &["crash"], "truncate"),
    // A dropped SSE answer resumed with Last-Event-ID never brings the response.
    (
        "http-dropped-stream-loses-answer",
        &["lost-response"],
        "drop_stream",
    ),
    // Answers of two sessions in flight together cross over.
    ("http-session-crosstalk", &["mismatched-id"], "session"),
];

/// Each HTTP delivery schedule (truncated bodies, dropped and resumed SSE answers, a
/// second session) finds the fault only it can reveal; the reproducer carries the
/// schedule, replays over HTTP, and neither replays on the clean fixture nor fires
/// once the schedule is taken out of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_delivery_schedules_find_the_faults_only_they_reveal() {
    let _campaign = CAMPAIGN.lock().await;
    for &(fault, oracles, schedule) in HTTP_SCHEDULES {
        let artifacts = scratch(fault);
        let report = fuzz_http(Some(fault), oracles, artifacts.clone()).await;
        let found: Vec<&str> = report.findings.iter().map(|f| f.oracle.as_str()).collect();
        let finding = report
            .findings
            .iter()
            .filter(|f| f.reproduced && oracles.contains(&f.oracle.as_str()))
            .find(|f| {
                let path = f.reproducer.as_deref().unwrap_or_default();
                std::fs::read_to_string(path).is_ok_and(|t| t.contains(&format!("\"{schedule}\"")))
            })
            .unwrap_or_else(|| {
                panic!(
                    "{fault}: no confirmed {oracles:?} finding using \"{schedule}\" in {} inputs: {found:?}",
                    report.stats.execs
                )
            });
        let path = finding.reproducer.clone().expect("reproducer written");
        let reproducer = Reproducer::load(std::path::Path::new(&path)).expect("reproducer loads");
        let replayed = replay(
            &http_target(Some(fault)),
            &reproducer,
            5,
            &limits(),
            &memory(),
        )
        .await
        .expect("replay starts");
        assert!(replayed.fired >= 1, "{fault}: {replayed:?}");
        let clean = replay(&http_target(None), &reproducer, 3, &limits(), &memory())
            .await
            .expect("replay starts");
        assert_eq!(clean.fired, 0, "{fault} on the clean fixture: {clean:?}");
        assert!(
            clean.others.is_empty(),
            "{fault} on the clean fixture: {clean:?}"
        );
        let mut plain = reproducer.clone();
        for step in &mut plain.steps {
            step.truncate = None;
            step.drop_stream = false;
            step.session = 0;
        }
        let without = replay(&http_target(Some(fault)), &plain, 3, &limits(), &memory())
            .await
            .expect("replay starts");
        assert_eq!(
            without.fired, 0,
            "{fault} without \"{schedule}\": {without:?}"
        );
        let _ = std::fs::remove_dir_all(&artifacts);
    }
}

/// The minimiser shrinks an input built on the HTTP schedules: of a truncated body, a
/// dropped SSE answer and a second session, only the truncated body is kept for
/// `http-truncated-body-crash`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimisation_drops_the_http_schedules_a_finding_does_without() {
    let _campaign = CAMPAIGN.lock().await;
    let call = |id: &str| {
        Step::json(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"echo","arguments":{"text":"<<x|é>>"}}}))
    };
    let mut dropped = call("fz-000000001");
    dropped.drop_stream = true;
    let mut truncated = call("fz-000000002");
    truncated.truncate = Some(20);
    let mut other = Step::json(json!({"jsonrpc":"2.0","id":"fz-000000003","method":"ping"}));
    other.session = 1;
    other.coalesce = true;
    let program = Program::new(vec![dropped, truncated, other]);
    let shrunk = minimise(
        &http_target(Some("http-truncated-body-crash")),
        &program,
        "crash",
        None,
        &limits(),
        &memory(),
        MinimiseBudget {
            attempts: 60,
            time: Duration::from_secs(120),
        },
        true,
    )
    .await;
    assert!(
        shrunk.reproduced,
        "the truncated body did not crash the server"
    );
    assert_eq!(shrunk.program.steps.len(), 1, "{:?}", shrunk.program.steps);
    let step = &shrunk.program.steps[0];
    assert_eq!(step.truncate, Some(20), "{step:?}");
    assert!(!step.drop_stream && step.session == 0, "{step:?}");
}

/// The libFuzzer driver (`server_stdio`) finds a fixture fault from raw bytes, and
/// `mcpspec replay` of those raw bytes (a libFuzzer crash artifact) reproduces it; on
/// the clean fixture the same bytes replay without a finding.
#[test]
fn libfuzzer_driver_finds_a_fault_and_replay_takes_the_raw_bytes() {
    use mcpspec::fuzz::libfuzzer::Driver;
    let fault = "duplicate-responses";
    let mut driver = Driver::new(target(Some(fault)), limits()).expect("driver starts");
    // Deterministic byte strings; every tenth response is doubled, so a few inputs
    // with requests in them are enough.
    let mut found = None;
    for n in 0u8..64 {
        let bytes: Vec<u8> = (0..96u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(n.wrapping_mul(11)))
            .collect();
        if let Some(failure) = driver.run(&bytes) {
            found = Some((bytes, failure));
            break;
        }
    }
    drop(driver);
    let (bytes, failure) = found.expect("no input of 64 fired an oracle on duplicate-responses");
    assert_eq!(failure.firing.oracle, "duplicate-response", "{failure:?}");
    let report = failure.report(&target(Some(fault)));
    assert!(
        report.starts_with("mcpspec: duplicate-response"),
        "{report}"
    );
    assert!(
        report.contains("\"format\": \"mcpspec-fuzz-reproducer\""),
        "{report}"
    );

    let dir = scratch("libfuzzer-artifact");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let artifact = dir.join("crash-0123abcd");
    std::fs::write(&artifact, &bytes).expect("artifact written");
    let replay_with = |fault: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcpspec"));
        cmd.arg("replay")
            .arg(&artifact)
            .args(["--tries", "3", "--timeout", "2s", "--"])
            .arg(env!("CARGO_BIN_EXE_mcpspec-fixture"));
        if let Some(f) = fault {
            cmd.args(["--fault", f]);
        }
        cmd.output().expect("mcpspec replay runs")
    };
    let faulty = replay_with(Some(fault));
    assert_eq!(
        faulty.status.code(),
        Some(1),
        "replay of the raw bytes did not fire: {}{}",
        String::from_utf8_lossy(&faulty.stdout),
        String::from_utf8_lossy(&faulty.stderr)
    );
    let clean = replay_with(None);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "the raw bytes fired on the clean fixture: {}{}",
        String::from_utf8_lossy(&clean.stdout),
        String::from_utf8_lossy(&clean.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seeds of `server_stdio` (raw libFuzzer bytes) run on the clean fixture without
/// a finding: they start a campaign from valid ground, not from a known failure.
#[test]
fn server_stdio_seeds_are_silent_on_the_clean_fixture() {
    use mcpspec::fuzz::libfuzzer::Driver;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/server_stdio");
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus/server_stdio exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let mut driver = Driver::new(target(None), limits()).expect("driver starts");
    for seed in seeds {
        let bytes = std::fs::read(&seed).expect("seed reads");
        if let Some(failure) = driver.run(&bytes) {
            panic!("{}: {:?}", seed.display(), failure.firing);
        }
    }
}

/// One `--jobs 2 --runs 700 --seed 11` run against a faulty fixture: its corpus entry
/// names, finding signatures and inputs run.
async fn seeded_two_job_run(name: &str) -> (Vec<String>, Vec<String>, u64) {
    let corpus = scratch(name);
    let artifacts = scratch(&format!("{name}-findings"));
    let target = target(Some("string-error-code"));
    let config = FuzzConfig {
        argv: vec![target.command.display()],
        target,
        limits: limits(),
        memory: memory(),
        seed: 11,
        jobs: 2,
        budget: Budget {
            time: Some(Duration::from_secs(120)),
            runs: Some(700),
        },
        corpus_dir: Some(corpus.clone()),
        artifacts: artifacts.clone(),
        allow_tools: Vec::new(),
        minimise: MinimiseBudget {
            attempts: 2,
            time: Duration::from_secs(5),
        },
        shrink: false,
        builtin_seeds: true,
        stop_on: Vec::new(),
    };
    let report = run(config, Arc::new(LiveStats::default()), &NoProgress)
        .await
        .expect("fuzzing starts");
    let mut entries: Vec<String> = std::fs::read_dir(&corpus)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut signatures: Vec<String> = report
        .findings
        .iter()
        .map(|f| f.signature.clone())
        .collect();
    signatures.sort();
    let _ = std::fs::remove_dir_all(&corpus);
    let _ = std::fs::remove_dir_all(&artifacts);
    (entries, signatures, report.stats.execs)
}

/// `--jobs 2 --runs N --seed S` is one run, whatever the threads' timing: each job
/// has its own stream, seeds and budget share, and the jobs exchange corpus entries at
/// fixed points in job order. Two runs find the same things.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_with_the_same_seed_find_the_same_things() {
    let _campaign = CAMPAIGN.lock().await;
    let first = seeded_two_job_run("jobs-a").await;
    let second = seeded_two_job_run("jobs-b").await;
    assert_eq!(first.2, 700, "inputs run");
    assert!(!first.0.is_empty(), "no corpus entries were kept");
    assert!(
        first.1.iter().any(|s| s.starts_with("invalid-message")),
        "the fault was not found: {:?}",
        first.1
    );
    assert_eq!(first.1, second.1, "findings differ");
    assert_eq!(first.2, second.2);
}

/// ... and keep the same corpus, also on a loaded machine: corpus feedback counts no
/// timing (latencies, probe races, ping patience, answers that trail into another
/// input, stderr), so load cannot change which inputs are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_with_the_same_seed_keep_the_same_corpus() {
    let _campaign = CAMPAIGN.lock().await;
    let first = seeded_two_job_run("jobs-c").await;
    let second = seeded_two_job_run("jobs-d").await;
    assert_eq!(first.0, second.0, "corpus entries differ");
}
