//! Keeping the guest's clock right. A laptop that sleeps stops the VM's clock, and TCG guests
//! drift; the host compares the clocks every [`CHECK_EVERY`] and sets the guest's through the
//! agent when they differ by more than [`MAX_DRIFT`]. A host resume is noticed within a second,
//! without asking the guest: the boot-time clock (which counts suspended time) then runs ahead
//! of the monotonic one (which does not), and the guest is set at once ([`SleepDetector`]).
//! A VM the resource saver paused is set as it resumes ([`check_now`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_protocol::call::{SetTime, Status};

use crate::agent::AgentAddress;
use crate::agent::{AgentClient, AgentError};

/// The drift tolerated before the guest's clock is set.
pub const MAX_DRIFT: Duration = Duration::from_secs(1);
/// How often the clocks are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How often the host looks for a resume from sleep (a local clock read, no guest traffic).
const RESUME_CHECK: Duration = Duration::from_secs(1);

/// Notices that the host slept: between two looks, the boot-time clock advanced by more than
/// the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct SleepDetector {
    last: (Duration, Duration),
}

impl SleepDetector {
    /// Starts from (boot-time, monotonic) readings.
    pub fn new(boottime: Duration, monotonic: Duration) -> SleepDetector {
        SleepDetector {
            last: (boottime, monotonic),
        }
    }

    /// Takes new readings; returns how long the host slept since the last look, if it did
    /// (by more than [`MAX_DRIFT`]).
    pub fn look(&mut self, boottime: Duration, monotonic: Duration) -> Option<Duration> {
        let (last_boot, last_mono) = std::mem::replace(&mut self.last, (boottime, monotonic));
        let slept = boottime
            .saturating_sub(last_boot)
            .saturating_sub(monotonic.saturating_sub(last_mono));
        (slept > MAX_DRIFT).then_some(slept)
    }
}

/// (boot-time, monotonic) clock readings, where the OS has both.
#[cfg(target_os = "linux")]
fn clocks() -> Option<(Duration, Duration)> {
    use nix::time::{clock_gettime, ClockId};
    let read = |id| clock_gettime(id).ok().map(Duration::from);
    Some((
        read(ClockId::CLOCK_BOOTTIME)?,
        read(ClockId::CLOCK_MONOTONIC)?,
    ))
}

/// Elsewhere the periodic comparison alone catches a resume.
#[cfg(not(target_os = "linux"))]
fn clocks() -> Option<(Duration, Duration)> {
    None
}

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
    let status = agent.call(Status).await?;
    // Half the round trip would be more exact; a second of tolerance makes it moot.
    let host = host_ms();
    let drift = i64::try_from(host).unwrap_or(i64::MAX)
        - i64::try_from(status.guest_time_unix_ms).unwrap_or(0);
    if needs_sync(host, status.guest_time_unix_ms) {
        let unix_nanos = host_ms().saturating_mul(1_000_000);
        agent.call(SetTime { unix_nanos }).await?;
        tracing::info!("set the guest clock (it was {drift} ms off)");
    }
    Ok(drift)
}

/// Keeps the guest's clock within [`MAX_DRIFT`] until the agent goes away. While the
/// resource saver has the VM paused the comparisons wait (the saver sets the clock itself on
/// resume, [`check_now`]).
pub async fn keep_in_sync(endpoint: AgentAddress, saver: crate::saver::Saver) {
    let Ok(mut agent) = AgentClient::connect(endpoint).await else {
        return;
    };
    let mut sleep = clocks().map(|(boot, mono)| SleepDetector::new(boot, mono));
    let mut since_check = CHECK_EVERY;
    loop {
        let resumed = match (&mut sleep, clocks()) {
            (Some(detector), Some((boot, mono))) => detector.look(boot, mono),
            _ => None,
        };
        if let Some(slept) = resumed {
            tracing::info!("the host resumed after {:.0} s asleep", slept.as_secs_f64());
        }
        if resumed.is_some() || since_check >= CHECK_EVERY {
            since_check = Duration::ZERO;
            let _awake = saver.passive_lease().await;
            if let Err(err) = check_once(&mut agent).await {
                tracing::debug!("clock sync stopped: {err}");
                return;
            }
        }
        tokio::time::sleep(RESUME_CHECK).await;
        since_check += RESUME_CHECK;
    }
}

/// Compares the clocks once on a connection of its own, setting the guest's if needed (after
/// the VM was paused, its clock is behind by the pause).
pub async fn check_now(endpoint: &AgentAddress) -> Result<i64, AgentError> {
    check_once(&mut AgentClient::connect(endpoint).await?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_shows_as_boottime_running_ahead() {
        let s = Duration::from_secs;
        let mut detector = SleepDetector::new(s(100), s(90));
        assert_eq!(detector.look(s(101), s(91)), None, "a second awake");
        assert_eq!(
            detector.look(s(3702), s(92)),
            Some(s(3600)),
            "an hour asleep"
        );
        assert_eq!(detector.look(s(3703), s(93)), None, "awake again");
        #[cfg(target_os = "linux")]
        assert!(clocks().is_some());
    }

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
