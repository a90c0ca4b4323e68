//! The `mcpspec` binary as a user runs it: exit codes, one-line errors, report formats.

use std::process::{Command, Output};

fn mcpspec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpspec"))
        .args(args)
        .env_remove("MCPSPEC_SCHEMA_DIR")
        .output()
        .expect("mcpspec runs")
}

const FIXTURE: &str = env!("CARGO_BIN_EXE_mcpspec-fixture");

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn clean_fixture_exits_zero() {
    let out = mcpspec(&["check", "--quiet", "--only", "basic/", "--", FIXTURE]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_fault_exits_one_and_names_the_requirement() {
    let out = mcpspec(&[
        "check",
        "--quiet",
        "--only",
        "basic/unknown-method",
        "--",
        FIXTURE,
        "--fault",
        "unknown-method-ok",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("JSONRPC-011"),
        "{stdout}"
    );
}

#[test]
fn usage_and_harness_errors_exit_two_with_one_line() {
    for args in [
        &["check", "--", "/nonexistent/mcp-server"][..],
        &["check", "--spec", "1999-01-01", "--", FIXTURE],
        &["check", "--jobs", "0", "--", FIXTURE],
        &["check", "--only", "no/such/case", "--", FIXTURE],
        &["frobnicate"],
        // Both HTTP transports at once, and a non-HTTP URL.
        &[
            "check",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--sse",
            "http://127.0.0.1:9/sse",
        ],
        &["check", "--sse", "ftp://127.0.0.1/sse"],
    ] {
        let out = mcpspec(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?} printed {lines:?}");
        assert!(lines[0].starts_with("mcpspec: error: "), "{lines:?}");
    }
}

#[test]
fn json_and_junit_reports_are_well_formed() {
    let dir = std::env::temp_dir().join(format!("mcpspec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json_path = dir.join("report.json");
    let out = mcpspec(&[
        "check",
        "--quiet",
        "--only",
        "basic/utilities/ping/",
        "--format",
        "json",
        "--output",
        json_path.to_str().expect("utf-8 path"),
        "--",
        FIXTURE,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("report written")).expect("JSON");
    assert_eq!(report["schema_version"], 1);
    assert!(report["results"].as_array().is_some_and(|r| !r.is_empty()));
    assert_eq!(report["summary"]["fail"], 0);

    let out = mcpspec(&[
        "check",
        "--quiet",
        "--only",
        "basic/unknown-method",
        "--format",
        "junit",
        "--",
        FIXTURE,
        "--fault",
        "unknown-method-ok",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<failure") && xml.contains("JSONRPC-011"),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_prints_every_case_with_its_requirements() {
    let out = mcpspec(&["list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let cases: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON list");
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    assert!(cases
        .iter()
        .all(|c| c["requirements"].as_array().is_some_and(|r| !r.is_empty())));
}

#[test]
fn legacy_sse_server_started_by_mcpspec_passes_and_a_fault_fails() {
    let run = |fault: Option<&str>| {
        let mut args = vec![
            "check",
            "--quiet",
            "--spec",
            "2024-11-05",
            "--only",
            "basic/transports/http-with-sse/post-accepted,basic/transports/http-with-sse/responses-on-stream",
            "--sse",
            "http://127.0.0.1:{port}/sse",
            "--",
            FIXTURE,
            "--sse",
            "--port",
            "{port}",
        ];
        if let Some(f) = fault {
            args.extend(["--fault", f]);
        }
        mcpspec(&args)
    };
    let clean = run(None);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let faulty = run(Some("sse-response-in-post-body"));
    assert_eq!(faulty.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&faulty.stdout);
    assert!(stdout.contains("SSE-004"), "{stdout}");
}
