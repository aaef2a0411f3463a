//! Rate-limited reporting of an event that can repeat thousands of times a second (failed
//! accepts, dropped queries): the first of a burst is reported, then at most one count per
//! period.

use std::time::Duration;

use tokio::time::Instant;

/// How often a burst's count is logged, for those that need no other period.
pub const REPORT_PERIOD: Duration = Duration::from_secs(10);

/// What to log for an event, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The first of a burst: log it in full.
    First,
    /// `count` events (this one included) since the last line, over `over`.
    More {
        /// Events not logged yet, this one included.
        count: u64,
        /// Since the last line.
        over: Duration,
    },
}

/// Counts events and says when one should be logged.
#[derive(Debug, Clone)]
pub struct Burst {
    period: Duration,
    last_line: Option<Instant>,
    unreported: u64,
}

impl Burst {
    /// At most one line per `period` after the first.
    pub fn new(period: Duration) -> Burst {
        Burst {
            period,
            last_line: None,
            unreported: 0,
        }
    }

    /// One more event: [`Report::First`] when none came within a period, a count once a period
    /// has passed since the last line, otherwise nothing.
    pub fn hit(&mut self) -> Option<Report> {
        let now = Instant::now();
        match self.last_line {
            Some(last) if now.duration_since(last) < self.period => {
                self.unreported += 1;
                None
            }
            Some(last) if self.unreported > 0 => {
                let count = self.unreported + 1;
                self.unreported = 0;
                self.last_line = Some(now);
                Some(Report::More {
                    count,
                    over: now.duration_since(last),
                })
            }
            _ => {
                self.last_line = Some(now);
                self.unreported = 0;
                Some(Report::First)
            }
        }
    }

    /// [`Burst::hit`] as a log line: `first()` for the first of a burst, `more(count, seconds)`
    /// for a count.
    pub fn line(
        &mut self,
        first: impl FnOnce() -> String,
        more: impl FnOnce(u64, u64) -> String,
    ) -> Option<String> {
        match self.hit()? {
            Report::First => Some(first()),
            Report::More { count, over } => Some(more(count, over.as_secs())),
        }
    }

    /// The burst is over (the operation succeeded): how many events went unlogged, if any. The
    /// next event is a [`Report::First`] again.
    pub fn end(&mut self) -> Option<u64> {
        self.last_line = None;
        let unreported = std::mem::take(&mut self.unreported);
        (unreported > 0).then_some(unreported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_first_event_then_a_count_per_period() {
        let mut burst = Burst::new(Duration::from_secs(10));
        assert_eq!(burst.hit(), Some(Report::First));
        for _ in 0..999 {
            assert_eq!(burst.hit(), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            burst.hit(),
            Some(Report::More {
                count: 1000,
                over: Duration::from_secs(10)
            })
        );
        // A quiet period, then a new burst starts with its first event.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(burst.hit(), Some(Report::First));
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_a_burst_tells_what_was_not_logged() {
        let mut burst = Burst::new(Duration::from_secs(10));
        assert_eq!(burst.end(), None);
        assert_eq!(burst.hit(), Some(Report::First));
        assert_eq!(burst.end(), None, "the one failure was logged");
        burst.hit();
        burst.hit();
        burst.hit();
        assert_eq!(burst.end(), Some(2));
        assert_eq!(burst.hit(), Some(Report::First));
    }
}
