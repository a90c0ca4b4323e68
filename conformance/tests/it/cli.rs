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
        // Both HTTP transports at one URL, {port} without a command, and a non-HTTP URL.
        &[
            "check",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--sse",
            "http://127.0.0.1:9/mcp",
        ],
        &[
            "check",
            "--url",
            "http://127.0.0.1:{port}/mcp",
            "--sse",
            "http://127.0.0.1:{port}/sse",
        ],
        &[
            "check",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--sse",
            "http://127.0.0.1:9/sse",
            "--spec",
            "2024-11-05",
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

/// `--url` with `--sse` and a command: one server process (the same `{port}` in both
/// URLs) checked over both transports, one report whose records say their transport;
/// a server without the legacy endpoints gets the SSE-008 warning (exit 0; 1 with
/// --strict).
#[test]
fn both_http_transports_of_one_server_in_one_report() {
    let run = |format: &str, fault: Option<&str>, strict: bool| {
        let mut args = vec![
            "check",
            "--quiet",
            "--format",
            format,
            "--only",
            "SSE-008,basic/utilities/ping/,basic/transports/http-with-sse/endpoint-first",
            "--url",
            "http://127.0.0.1:{port}/mcp",
            "--sse",
            "http://127.0.0.1:{port}/sse",
        ];
        if strict {
            args.push("--strict");
        }
        args.extend(["--", FIXTURE, "--both", "--port", "{port}"]);
        if let Some(f) = fault {
            args.extend(["--fault", f]);
        }
        mcpspec(&args)
    };
    let out = run("json", None, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["subject"]["transport"], "streamable-http+sse");
    let command = report["subject"]["command"].as_str().unwrap_or_default();
    // One port, substituted once, in both URLs and the command.
    let port = command
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a port in the command");
    assert!(
        command.contains(&format!("127.0.0.1:{port}/sse"))
            && command.contains(&format!("--port {port}")),
        "{command}"
    );
    let results = report["results"].as_array().expect("results");
    let of = |transport: &str| -> Vec<&str> {
        results
            .iter()
            .filter(|r| r["transport"] == transport)
            .filter_map(|r| r["id"].as_str())
            .collect()
    };
    let (modern, legacy) = (of("streamable-http"), of("sse"));
    assert_eq!(
        modern.len() + legacy.len(),
        results.len(),
        "untagged records: {stdout}"
    );
    // The same case ran over each transport, as two distinguishable records.
    let ping = "basic/utilities/ping/empty-result";
    assert!(
        modern.contains(&ping) && legacy.contains(&ping),
        "{modern:?} / {legacy:?}"
    );
    assert!(legacy.contains(&"basic/transports/http-with-sse/endpoint-first"));
    let dual: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["requirements"][0] == "SSE-008")
        .collect();
    assert_eq!(dual.len(), 1, "SSE-008 runs once: {stdout}");
    assert_eq!(dual[0]["outcome"], "pass", "{stdout}");
    assert_eq!(dual[0]["transport"], "streamable-http");
    assert!(report["timings"]["cases_ms"]
        .as_object()
        .is_some_and(|t| t.contains_key(&format!("sse:{ping}"))
            && t.contains_key(&format!("streamable-http:{ping}"))));

    let junit = run("junit", None, false);
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(
        xml.contains(r#"<testsuite name="sse:basic/utilities/ping""#)
            && xml.contains(r#"<testsuite name="streamable-http:basic/utilities/ping""#),
        "{xml}"
    );

    let missing = run("human", Some("sse-no-legacy-endpoint"), false);
    let text = String::from_utf8_lossy(&missing.stdout);
    assert_eq!(missing.status.code(), Some(0), "{text}");
    assert!(
        text.contains("WARN") && text.contains("SSE-008") && text.contains("404"),
        "{text}"
    );
    assert!(text.contains("the sse profile did not start"), "{text}");
    assert_eq!(
        run("human", Some("sse-no-legacy-endpoint"), true)
            .status
            .code(),
        Some(1)
    );
}
