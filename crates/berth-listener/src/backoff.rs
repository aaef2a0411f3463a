//! The wait after a failed operation: 50 ms, doubling up to 1 s, back to 50 ms after a success.

use std::time::Duration;

/// The first wait after a failure.
pub const FIRST: Duration = Duration::from_millis(50);
/// The longest.
pub const MAX: Duration = Duration::from_secs(1);

/// Exponential backoff between [`FIRST`] and [`MAX`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// One more failure: how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX);
        wait
    }

    /// A success: the next failure waits [`FIRST`] again.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_second_and_a_success_starts_over() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..7)
            .map(|_| backoff.failed().as_millis() as u64)
            .collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.failed(), FIRST);
    }
}
