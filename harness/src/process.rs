//! Spawning and supervising an untrusted server process speaking over stdin/stdout.
//!
//! Every child gets its own process group so that it and anything it spawns (npx, shells,
//! interpreters) can be killed together. Children are killed and reaped when the last
//! handle is dropped, on [`ProcessControl::kill`], and on Ctrl-C via
//! [`kill_all_children`]. stdout and stderr are drained continuously by background tasks
//! into bounded buffers, so a chatty server can never block on a full pipe unnoticed.

use crate::delivery::Delivery;
use crate::ndjson::{Frame, NdjsonDecoder, DEFAULT_MAX_LINE};
use crate::transcript::{BoundedCapture, Direction, Transcript};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, watch};

/// What to run: a program and its arguments, never through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

impl CommandSpec {
    /// From an argv as the user typed it after `--`.
    pub fn from_argv(argv: &[String]) -> Option<Self> {
        let (program, args) = argv.split_first()?;
        Some(CommandSpec {
            program: program.clone(),
            args: args.to_vec(),
            env: Vec::new(),
            cwd: None,
        })
    }

    /// The command line for display, quoted where needed.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| {
                if w.is_empty() || w.contains(|c: char| c.is_whitespace() || c == '\'') {
                    format!("'{}'", w.replace('\'', "'\\''"))
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Bounds applied to everything read from the child.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    pub max_line: usize,
    pub stderr_limit: usize,
    pub transcript_limit: usize,
    /// Frames buffered before the reader stops draining stdout (back-pressure).
    pub frame_buffer: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            max_line: DEFAULT_MAX_LINE,
            stderr_limit: 64 * 1024,
            transcript_limit: 256 * 1024,
            frame_buffer: 4096,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("command not found: {0} (check the spelling, or give a full path)")]
    NotFound(String),
    #[error("permission denied running {0} (is it executable?)")]
    PermissionDenied(String),
    #[error("could not start {program}: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(sig)) => match Signal::try_from(sig) {
                Ok(s) => write!(f, "killed by signal {sig} ({})", s.as_str()),
                Err(_) => write!(f, "killed by signal {sig}"),
            },
            (None, None) => write!(f, "ended without status"),
        }
    }
}

/// One item read from stdout.
#[derive(Debug, Clone)]
pub enum StdoutEvent {
    Frame {
        frame: Frame,
        at: Instant,
    },
    /// stdout was closed by the server (it may still be running).
    Eof {
        at: Instant,
    },
}

/// Result of waiting for stdout.
#[derive(Debug, Clone)]
pub enum Recv {
    Frame(Frame),
    Eof,
    Timeout,
}

/// Process groups of live children, for the Ctrl-C path.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live_groups() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kill every child process group still registered. Called on Ctrl-C / SIGTERM of
/// mcpspec itself so no server outlives us.
pub fn kill_all_children() {
    let groups: Vec<i32> = live_groups().iter().copied().collect();
    for pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Kills the process group when the last handle goes away.
#[derive(Debug)]
struct GroupGuard {
    pgid: i32,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // Kill the whole group even if the leader already exited: grandchildren
        // (e.g. node under npx) live in it too.
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        live_groups().remove(&self.pgid);
    }
}

/// Shared, cloneable view of a running child: status, stderr, transcript, signals.
#[derive(Debug, Clone)]
pub struct ProcessControl {
    pid: u32,
    /// `None` for a detached control (no process of ours behind it).
    guard: Option<Arc<GroupGuard>>,
    exit: watch::Receiver<Option<ExitInfo>>,
    stderr: Arc<Mutex<BoundedCapture>>,
    stderr_closed: watch::Receiver<bool>,
    transcript: Transcript,
    started: Instant,
}

impl ProcessControl {
    /// A control with no process behind it, for a server reached over the network that
    /// this harness did not start: no exit status, empty stderr, and `kill`/`signal`
    /// do nothing. Only the transcript is real.
    pub fn detached(transcript: Transcript) -> Self {
        // Senders dropped at once: waits on these channels return immediately.
        let (_, exit) = watch::channel(None);
        let (_, stderr_closed) = watch::channel(true);
        ProcessControl {
            pid: 0,
            guard: None,
            exit,
            stderr: Arc::new(Mutex::new(BoundedCapture::new(0))),
            stderr_closed,
            transcript,
            started: Instant::now(),
        }
    }

    /// Whether this control has no process behind it ([`ProcessControl::detached`]).
    pub fn is_detached(&self) -> bool {
        self.guard.is_none()
    }

    /// Wait until the server's stderr is closed (all of it captured), up to `timeout`.
    pub async fn wait_stderr_closed(&self, timeout: Duration) -> bool {
        let mut rx = self.stderr_closed.clone();
        let closed = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|closed| *closed)).await,
            Ok(Ok(_))
        );
        closed
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Exit status if the process has ended (non-blocking).
    pub fn exit_status(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Wait up to `timeout` for the process to end.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitInfo> {
        let mut rx = self.exit.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|s| s.is_some())).await;
        match waited {
            Ok(Ok(status)) => *status,
            _ => self.exit_status(),
        }
    }

    /// Send a signal to the leader only (how a client would signal the server).
    pub fn signal(&self, signal: Signal) {
        // pid 0 would signal our own process group: a detached control never signals.
        if self.guard.is_some() && self.is_running() {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.pid as i32), signal);
            self.transcript.note(&format!("sent {}", signal.as_str()));
        }
    }

    /// Kill the whole process group now.
    pub fn kill(&self) {
        if let Some(guard) = &self.guard {
            let _ = killpg(Pid::from_raw(guard.pgid), Signal::SIGKILL);
        }
    }

    /// Stderr kept so far (bounded), with a marker where bytes were omitted.
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contents()
    }

    pub fn stderr_total(&self) -> u64 {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .total()
    }

    /// The graceful shutdown a client performs: the caller has closed stdin; wait,
    /// then SIGTERM, then SIGKILL. Reports which step ended the process.
    pub async fn shutdown(&self, grace: Duration) -> Shutdown {
        if let Some(status) = self.wait_exit(grace).await {
            return Shutdown {
                step: ShutdownStep::OnItsOwn,
                status: Some(status),
            };
        }
        self.signal(Signal::SIGTERM);
        if let Some(status) = self.wait_exit(grace).await {
            return Shutdown {
                step: ShutdownStep::Sigterm,
                status: Some(status),
            };
        }
        self.kill();
        self.transcript.note("sent SIGKILL to the process group");
        let status = self.wait_exit(grace).await;
        Shutdown {
            step: ShutdownStep::Sigkill,
            status,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    OnItsOwn,
    Sigterm,
    Sigkill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shutdown {
    pub step: ShutdownStep,
    pub status: Option<ExitInfo>,
}

/// The writing half: the child's stdin.
#[derive(Debug)]
pub struct StdinWriter {
    stdin: Option<ChildStdin>,
    transcript: Transcript,
}

impl StdinWriter {
    /// One write followed by a flush, so the bytes reach the pipe as one unit.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin already closed")
        })?;
        self.transcript.record(Direction::Sent, bytes);
        stdin.write_all(bytes).await?;
        stdin.flush().await
    }

    /// Deliver a schedule: each piece is its own write, after its delay. The delays are
    /// the stimulus under test (they make the server's reads see separate pieces), not
    /// a way of waiting for anything.
    pub async fn deliver(&mut self, delivery: &Delivery) -> std::io::Result<()> {
        for piece in delivery.pieces() {
            if !piece.delay_before.is_zero() {
                tokio::time::sleep(piece.delay_before).await;
            }
            self.write(&piece.bytes).await?;
        }
        Ok(())
    }

    /// Close stdin: end-of-file for the server.
    pub fn close(&mut self) {
        if self.stdin.take().is_some() {
            self.transcript.note("closed stdin");
        }
    }

    pub fn is_open(&self) -> bool {
        self.stdin.is_some()
    }
}

/// The reading half: frames decoded from stdout.
#[derive(Debug)]
pub struct FrameReader {
    rx: mpsc::Receiver<StdoutEvent>,
    eof: bool,
}

impl FrameReader {
    /// Wait for the next frame until `deadline`.
    pub async fn next_until(&mut self, deadline: Instant) -> Recv {
        if self.eof {
            return Recv::Eof;
        }
        match tokio::time::timeout_at(deadline.into(), self.rx.recv()).await {
            Err(_) => Recv::Timeout,
            Ok(Some(StdoutEvent::Frame { frame, .. })) => Recv::Frame(frame),
            Ok(Some(StdoutEvent::Eof { .. })) | Ok(None) => {
                self.eof = true;
                Recv::Eof
            }
        }
    }

    /// The next raw event with its arrival time, or `None` once stdout is closed.
    pub async fn next_event(&mut self) -> Option<StdoutEvent> {
        if self.eof {
            return None;
        }
        let event = self.rx.recv().await;
        if matches!(event, Some(StdoutEvent::Eof { .. }) | None) {
            self.eof = true;
        }
        event
    }
}

/// A spawned server with all three parts together; [`split`](Self::split) them to use
/// them from different tasks.
#[derive(Debug)]
pub struct ServerProcess {
    pub control: ProcessControl,
    pub stdin: StdinWriter,
    pub stdout: FrameReader,
}

impl ServerProcess {
    pub fn spawn(spec: &CommandSpec, options: &ProcessOptions) -> Result<Self, SpawnError> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Also when we cannot clean up: a libFuzzer target exits without running
        // destructors of its process-wide server, and SIGKILL skips them all. The
        // signal follows the spawning thread, which in every caller is a runtime
        // worker or the main thread that lives as long as the run.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SpawnError::NotFound(spec.program.clone()),
            std::io::ErrorKind::PermissionDenied => {
                SpawnError::PermissionDenied(spec.program.clone())
            }
            _ => SpawnError::Io {
                program: spec.program.clone(),
                source,
            },
        })?;
        let started = Instant::now();
        let pid = child.id().unwrap_or_default();
        live_groups().insert(pid as i32);
        let guard = Arc::new(GroupGuard { pgid: pid as i32 });
        let transcript = Transcript::new(options.transcript_limit);
        transcript.note(&format!("spawned {}", spec.display()));

        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();

        let (frame_tx, frame_rx) = mpsc::channel(options.frame_buffer.max(1));
        if let Some(stdout) = stdout {
            tokio::spawn(read_stdout(
                stdout,
                NdjsonDecoder::new(options.max_line),
                frame_tx,
                transcript.clone(),
            ));
        }

        let stderr = Arc::new(Mutex::new(BoundedCapture::new(options.stderr_limit)));
        let (stderr_tx, stderr_closed) = watch::channel(false);
        match stderr_pipe {
            Some(pipe) => {
                tokio::spawn(read_stderr(
                    pipe,
                    stderr.clone(),
                    transcript.clone(),
                    stderr_tx,
                ));
            }
            None => {
                let _ = stderr_tx.send(true);
            }
        }

        let (exit_tx, exit_rx) = watch::channel(None);
        let exit_transcript = transcript.clone();
        tokio::spawn(async move {
            // Owning the child here reaps it as soon as it exits.
            let status = child.wait().await;
            let info = match status {
                Ok(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    ExitInfo {
                        code: s.code(),
                        signal: s.signal(),
                    }
                }
                Err(_) => ExitInfo {
                    code: None,
                    signal: None,
                },
            };
            exit_transcript.note(&format!("process ended: {info}"));
            let _ = exit_tx.send(Some(info));
        });

        Ok(ServerProcess {
            control: ProcessControl {
                pid,
                guard: Some(guard),
                exit: exit_rx,
                stderr,
                stderr_closed,
                transcript: transcript.clone(),
                started,
            },
            stdin: StdinWriter { stdin, transcript },
            stdout: FrameReader {
                rx: frame_rx,
                eof: false,
            },
        })
    }

    pub fn split(self) -> (ProcessControl, StdinWriter, FrameReader) {
        (self.control, self.stdin, self.stdout)
    }
}

async fn read_stdout(
    mut stdout: tokio::process::ChildStdout,
    mut decoder: NdjsonDecoder,
    tx: mpsc::Sender<StdoutEvent>,
    transcript: Transcript,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames = Vec::new();
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        transcript.record(Direction::Received, &buf[..n]);
        decoder.push(&buf[..n], &mut frames);
        let at = Instant::now();
        for frame in frames.drain(..) {
            if tx.send(StdoutEvent::Frame { frame, at }).await.is_err() {
                return; // nobody listens any more
            }
        }
    }
    decoder.finish(&mut frames);
    let at = Instant::now();
    for frame in frames.drain(..) {
        let _ = tx.send(StdoutEvent::Frame { frame, at }).await;
    }
    transcript.note("stdout closed");
    let _ = tx.send(StdoutEvent::Eof { at }).await;
}

async fn read_stderr(
    mut stderr: tokio::process::ChildStderr,
    capture: Arc<Mutex<BoundedCapture>>,
    transcript: Transcript,
    closed: watch::Sender<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                capture
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(&buf[..n]);
                transcript.record(Direction::Diagnostic, &buf[..n]);
            }
        }
    }
    let _ = closed.send(true);
}

// ---------------------------------------------------------------------------
// Listening sockets of a process group (procfs)
// ---------------------------------------------------------------------------

/// At most this many processes are looked at in one group.
pub const MAX_GROUP_MEMBERS: usize = 256;
/// At most this many open descriptors are looked at per process.
const MAX_FDS_PER_PROCESS: usize = 16_384;

/// The process group field of a `/proc/<pid>/stat` line (the command name may hold
/// spaces and parentheses, so fields are counted after its last `)`).
pub fn parse_stat_pgrp(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

/// Live processes whose process group is `pgid` (the group leader and everything it
/// started that stayed in its group), at most [`MAX_GROUP_MEMBERS`], in pid order.
pub fn process_group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_stat_pgrp(&stat))
                == Some(pgid)
        })
        .take(MAX_GROUP_MEMBERS)
        .collect();
    pids.sort_unstable();
    pids
}

/// The inodes of the sockets `pid` holds open (`/proc/<pid>/fd/*` links reading
/// `socket:[N]`). Empty when the process is gone or its descriptors are not readable.
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .take(MAX_FDS_PER_PROCESS)
        .filter_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            parse_socket_link(link.to_str()?)
        })
        .collect()
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// One TCP socket in LISTEN state, from `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListeningSocket {
    pub addr: std::net::SocketAddr,
    /// The socket's inode (0 when the table line has none).
    pub inode: u64,
}

/// The LISTEN entries of a `/proc/net/tcp` or `tcp6` table. Lines that do not parse
/// are skipped.
pub fn parse_listening_sockets(table: &str) -> Vec<ListeningSocket> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        // 0A is TCP_LISTEN.
        if *state != "0A" {
            continue;
        }
        let Some((addr, port)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        // A table cut short before the inode column still gives the address.
        let inode = fields.get(9).and_then(|i| i.parse().ok()).unwrap_or(0);
        // The kernel prints each 32-bit word of the address in host byte order.
        let words: Option<Vec<[u8; 4]>> = (0..addr.len() / 8)
            .map(|i| {
                u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16)
                    .ok()
                    .map(u32::to_le_bytes)
            })
            .collect();
        let Some(words) = words else {
            continue;
        };
        let bytes: Vec<u8> = words.concat();
        let ip = match bytes.len() {
            4 => std::net::IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]),
            16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&bytes);
                std::net::IpAddr::from(b)
            }
            _ => continue,
        };
        out.push(ListeningSocket {
            addr: std::net::SocketAddr::new(ip, port),
            inode,
        });
    }
    out
}

/// Every LISTEN socket of this network namespace (`/proc/net/tcp` and `tcp6`).
pub fn listening_sockets() -> Vec<ListeningSocket> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            out.extend(parse_listening_sockets(&text));
        }
    }
    out
}

/// What procfs tells about the listening sockets of one process group.
#[derive(Debug, Clone, Default)]
pub struct GroupSockets {
    /// The group's live processes.
    pub members: Vec<u32>,
    /// Each listening TCP socket a member holds, with that member's pid (a socket
    /// shared by several members is listed once, with the lowest pid).
    pub listening: Vec<(u32, ListeningSocket)>,
}

/// The listening TCP sockets held by the processes of group `pgid`: their socket
/// inodes matched against the LISTEN entries of `/proc/net/tcp` and `tcp6`.
pub fn group_listening_sockets(pgid: u32) -> GroupSockets {
    let members = process_group_members(pgid);
    let table = listening_sockets();
    let mut listening: Vec<(u32, ListeningSocket)> = Vec::new();
    for &pid in &members {
        let inodes = socket_inodes(pid);
        for socket in table
            .iter()
            .filter(|s| s.inode != 0 && inodes.contains(&s.inode))
        {
            if !listening.iter().any(|(_, s)| s == socket) {
                listening.push((pid, *socket));
            }
        }
    }
    GroupSockets { members, listening }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            cwd: None,
        }
    }

    #[tokio::test]
    async fn detached_control_waits_for_nothing_and_signals_nobody() {
        let transcript = Transcript::new(1024);
        let control = ProcessControl::detached(transcript.clone());
        assert!(control.is_detached());
        assert_eq!(control.exit_status(), None);
        let t0 = Instant::now();
        assert_eq!(control.wait_exit(Duration::from_secs(5)).await, None);
        assert!(control.wait_stderr_closed(Duration::from_secs(5)).await);
        assert!(t0.elapsed() < Duration::from_secs(1));
        // Must not signal our own process group (pid 0).
        control.signal(Signal::SIGTERM);
        control.kill();
        assert!(control.stderr().is_empty());
        control.transcript().note("still here");
        assert_eq!(transcript.entries().len(), 1);
    }

    #[tokio::test]
    async fn echoes_frames_and_reports_exit() {
        let proc = ServerProcess::spawn(&sh("cat"), &ProcessOptions::default()).unwrap();
        let (control, mut stdin, mut stdout) = proc.split();
        stdin
            .deliver(&Delivery::split_at(
                b"{\"a\":1}\n",
                &[3],
                Duration::from_millis(1),
            ))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        match stdout.next_until(deadline).await {
            Recv::Frame(f) => assert_eq!(f.as_message(), Some(&serde_json::json!({"a":1}))),
            other => panic!("expected a frame, got {other:?}"),
        }
        stdin.close();
        assert!(matches!(stdout.next_until(deadline).await, Recv::Eof));
        let status = control.wait_exit(Duration::from_secs(10)).await.unwrap();
        assert!(status.success());
    }

    #[tokio::test]
    async fn missing_program_is_reported_as_not_found() {
        let spec = CommandSpec::from_argv(&["/nonexistent/server".to_string()]).unwrap();
        let err = ServerProcess::spawn(&spec, &ProcessOptions::default()).unwrap_err();
        assert!(matches!(err, SpawnError::NotFound(_)), "{err}");
    }

    #[tokio::test]
    async fn shutdown_escalates_to_sigkill_for_a_stubborn_child() {
        let proc = ServerProcess::spawn(
            &sh("trap '' TERM; while :; do sleep 1; done"),
            &ProcessOptions::default(),
        )
        .unwrap();
        let (control, mut stdin, _stdout) = proc.split();
        stdin.close();
        let result = control.shutdown(Duration::from_millis(300)).await;
        assert_eq!(result.step, ShutdownStep::Sigkill);
        assert_eq!(result.status.and_then(|s| s.signal), Some(9));
    }

    #[tokio::test]
    async fn stderr_is_captured_within_its_bound() {
        let options = ProcessOptions {
            stderr_limit: 100,
            ..ProcessOptions::default()
        };
        let proc =
            ServerProcess::spawn(&sh("head -c 5000 /dev/zero | tr '\\0' e >&2"), &options).unwrap();
        let control = proc.control.clone();
        assert!(control.wait_stderr_closed(Duration::from_secs(10)).await);
        assert_eq!(control.stderr_total(), 5000);
        assert!(control.stderr().len() < 200);
    }
    #[test]
    fn proc_net_tcp_listen_entries_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n\
   3: garbage\n";
        let sockets = parse_listening_sockets(tcp);
        assert_eq!(
            sockets,
            vec![
                ListeningSocket {
                    addr: "127.0.0.1:8080".parse().unwrap(),
                    inode: 4242
                },
                ListeningSocket {
                    addr: "0.0.0.0:8081".parse().unwrap(),
                    inode: 4343
                },
            ]
        );
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000 100 0 0 10 0\n";
        let v6 = parse_listening_sockets(tcp6);
        assert_eq!(v6[0].addr, "[::1]:8080".parse().unwrap());
        assert_eq!(v6[1].addr, "[::]:8082".parse().unwrap());
        assert_eq!(v6[1].inode, 78);
        assert_eq!(parse_socket_link("socket:[4242]"), Some(4242));
        assert_eq!(parse_socket_link("pipe:[4242]"), None);
        assert_eq!(parse_stat_pgrp("12 (a b) c) S 1 77 77 0"), Some(77));
    }

    /// A listener in a child of the group leader is found through the group, with
    /// the child's pid; the group has both processes.
    #[tokio::test]
    async fn group_listening_sockets_finds_a_childs_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        // The shell (group leader) starts a listener as its child and waits.
        let script = format!(
            "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\",{port})); s.listen(); print(1, flush=True); time.sleep(30)' & wait"
        );
        if std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("python3 missing: skipped");
            return;
        }
        let proc = ServerProcess::spawn(&sh(&script), &ProcessOptions::default()).unwrap();
        let (control, _stdin, mut stdout) = proc.split();
        let up = stdout
            .next_until(Instant::now() + Duration::from_secs(20))
            .await;
        assert!(
            matches!(up, Recv::Frame(_)),
            "listener did not start: {up:?}"
        );
        let pgid = control.pid();
        let found = group_listening_sockets(pgid);
        control.kill();
        let _ = control.wait_exit(Duration::from_secs(5)).await;
        assert!(found.members.len() >= 2, "{found:?}");
        assert!(found.members.contains(&pgid), "{found:?}");
        let ours: Vec<_> = found
            .listening
            .iter()
            .filter(|(_, s)| s.addr.port() == port)
            .collect();
        assert_eq!(ours.len(), 1, "{found:?}");
        assert_ne!(
            ours[0].0, pgid,
            "the listener is the child's, not the shell's"
        );
        assert_eq!(ours[0].1.addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    }
}
