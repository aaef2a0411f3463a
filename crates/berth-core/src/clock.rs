//! Keeping the guest's clock right. A laptop that sleeps stops the VM's clock, and TCG guests
//! drift; the host compares the clocks regularly and sets the guest's through the agent when they
//! differ by more than [`MAX_DRIFT`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_protocol::message::{Request, Response};

use crate::agent::{AgentClient, AgentError};
use crate::vsock::Endpoint;

/// The drift tolerated before the guest's clock is set.
pub const MAX_DRIFT: Duration = Duration::from_secs(1);
/// How often the clocks are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Milliseconds since the epoch on the host.
fn host_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// Whether the guest's clock must be set, given both clocks in milliseconds.
pub fn needs_sync(host_ms: u64, guest_ms: u64) -> bool {
    guest_ms != 0
        && host_ms.abs_diff(guest_ms) > u64::try_from(MAX_DRIFT.as_millis()).unwrap_or(1000)
}

/// Compares once and sets the guest's clock if needed; returns the drift found, in ms
/// (positive: the guest is behind).
pub async fn check_once(agent: &mut AgentClient) -> Result<i64, AgentError> {
    let Response::Status(status) = agent.request(Request::Status).await? else {
        return Err(AgentError::Unexpected("no status".into()));
    };
    // Half the round trip would be more exact; a second of tolerance makes it moot.
    let host = host_ms();
    let drift = i64::try_from(host).unwrap_or(i64::MAX)
        - i64::try_from(status.guest_time_unix_ms).unwrap_or(0);
    if needs_sync(host, status.guest_time_unix_ms) {
        let unix_nanos = host_ms().saturating_mul(1_000_000);
        agent.request(Request::SetTime { unix_nanos }).await?;
        tracing::info!("set the guest clock (it was {drift} ms off)");
    }
    Ok(drift)
}

/// Keeps the guest's clock within [`MAX_DRIFT`] until the agent goes away.
pub async fn keep_in_sync(endpoint: Endpoint) {
    let Ok(mut agent) = AgentClient::connect(endpoint).await else {
        return;
    };
    loop {
        if let Err(err) = check_once(&mut agent).await {
            tracing::debug!("clock sync stopped: {err}");
            return;
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_drift_beyond_a_second_is_corrected() {
        assert!(!needs_sync(10_000, 10_900));
        assert!(!needs_sync(10_900, 10_000));
        assert!(needs_sync(10_000, 11_001));
        assert!(needs_sync(100_000, 10_000));
        assert!(
            !needs_sync(100_000, 0),
            "an agent without a clock report is left alone"
        );
    }
}
