//! Loopback ports and readiness of a server the harness did not write.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A port on 127.0.0.1 that was free a moment ago, for handing to a server we start.
///
/// The port is released before returning, so another process could take it before the
/// server binds; that race is why servers we write ourselves bind port 0 instead. A
/// foreign server has to be told its port up front, so this is the best there is.
pub fn free_loopback_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Nothing accepted connections at `addr` before the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotListening {
    pub addr: SocketAddr,
    pub attempts: u32,
    pub waited: Duration,
    /// Why the last attempt failed (usually `ConnectionRefused`).
    pub last_error: Option<std::io::ErrorKind>,
}

impl fmt::Display for NotListening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nothing listening on {} after {} attempts in {:?}",
            self.addr, self.attempts, self.waited
        )?;
        if let Some(kind) = self.last_error {
            write!(f, " (last: {kind})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotListening {}

/// Poll `addr` with TCP connects until one succeeds or `deadline` passes; returns the
/// number of attempts it took.
///
/// Polling is the only option: a foreign server process gives no portable signal that
/// it is ready (it may log something, in any wording, or nothing), and the only
/// observable readiness is that its socket accepts. Each probe is a connection opened
/// and closed at once, which servers tolerate. The backoff starts small so a fast
/// server is found quickly and is capped so a slow one is not hammered.
pub async fn wait_until_listening(
    addr: SocketAddr,
    deadline: Instant,
) -> Result<u32, NotListening> {
    const FIRST_DELAY: Duration = Duration::from_millis(5);
    const MAX_DELAY: Duration = Duration::from_millis(200);
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut attempts = 0;
    let mut last_error = None;
    loop {
        attempts += 1;
        match tokio::time::timeout_at(deadline.into(), TcpStream::connect(addr)).await {
            Ok(Ok(_probe)) => return Ok(attempts),
            Ok(Err(e)) => last_error = Some(e.kind()),
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(NotListening {
                addr,
                attempts,
                waited: now - started,
                last_error,
            });
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}
