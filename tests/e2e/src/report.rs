//! Benchmark rows in one shape, so `bench` can gather every benchmark's figures into one
//! table: each row is a figure with its median and spread, the baseline measured in the same
//! run, their ratio, and the goal from its issue. A benchmark binary prints its human report as
//! it likes and then one `BERTH-BENCH {json}` line per row on stdout.

use serde::{Deserialize, Serialize};

/// The prefix of a row's line on a benchmark's stdout.
pub const PREFIX: &str = "BERTH-BENCH ";

/// Which direction is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (times, memory, CPU).
    Lower,
    /// Larger is better (throughput).
    Higher,
}

/// The goal a figure is held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Goal {
    /// The ratio to the baseline must stay within this bound (≤ for lower-is-better, ≥ for
    /// higher-is-better).
    Ratio {
        /// The bound.
        bound: f64,
    },
    /// The figure itself must stay within this bound, in the row's unit.
    Absolute {
        /// The bound.
        bound: f64,
    },
    /// The figure minus the baseline must stay within this bound, in the row's unit.
    Added {
        /// The bound.
        bound: f64,
    },
    /// Reported only.
    None,
}

/// A measured figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The unit of the figures.
    pub unit: String,
    /// Which direction is better.
    pub better: Better,
    /// Median over the repetitions.
    pub median: f64,
    /// Smallest repetition.
    pub min: f64,
    /// Largest repetition.
    pub max: f64,
    /// What the baseline is.
    pub baseline_name: String,
    /// The baseline's median, measured in the same run.
    pub baseline: f64,
    /// The goal.
    pub goal: Goal,
}

impl Row {
    /// Median, min and max of `values` (which must not be empty).
    pub fn stats(values: &[f64]) -> (f64, f64, f64) {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        (
            sorted[sorted.len() / 2],
            sorted[0],
            sorted[sorted.len() - 1],
        )
    }

    /// A row from repetitions of the figure and of its baseline.
    pub fn measured(
        name: &str,
        unit: &str,
        better: Better,
        values: &[f64],
        baseline_name: &str,
        baseline: &[f64],
        goal: Goal,
    ) -> Row {
        let (median, min, max) = Row::stats(values);
        Row {
            name: name.into(),
            unit: unit.into(),
            better,
            median,
            min,
            max,
            baseline_name: baseline_name.into(),
            baseline: Row::stats(baseline).0,
            goal,
        }
    }

    /// The figure over its baseline.
    pub fn ratio(&self) -> f64 {
        if self.baseline == 0.0 {
            f64::NAN
        } else {
            self.median / self.baseline
        }
    }

    /// Whether the goal is met; `None` when there is none.
    pub fn met(&self) -> Option<bool> {
        let within = |value: f64, bound: f64| match self.better {
            Better::Lower => value <= bound,
            Better::Higher => value >= bound,
        };
        match self.goal {
            Goal::Ratio { bound } => Some(within(self.ratio(), bound)),
            Goal::Absolute { bound } => Some(within(self.median, bound)),
            Goal::Added { bound } => Some(self.median - self.baseline <= bound),
            Goal::None => None,
        }
    }

    /// The goal in words.
    pub fn goal_text(&self) -> String {
        let op = match self.better {
            Better::Lower => "<=",
            Better::Higher => ">=",
        };
        match self.goal {
            Goal::Ratio { bound } => format!("ratio {op} {bound}"),
            Goal::Absolute { bound } => format!("{op} {bound} {}", self.unit),
            Goal::Added { bound } => format!("+{bound} {} at most", self.unit),
            Goal::None => "-".into(),
        }
    }

    /// Prints the row for `bench` to collect.
    pub fn emit(&self) {
        match serde_json::to_string(self) {
            Ok(json) => println!("{PREFIX}{json}"),
            Err(err) => eprintln!("cannot encode a benchmark row: {err}"),
        }
    }

    /// The row from one line of a benchmark's stdout, if it is one.
    pub fn parse(line: &str) -> Option<Row> {
        serde_json::from_str(line.strip_prefix(PREFIX)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_judge_their_goals() {
        let row = Row::measured(
            "throughput",
            "MB/s",
            Better::Higher,
            &[90.0, 80.0, 100.0],
            "raw",
            &[100.0, 95.0, 105.0],
            Goal::Ratio { bound: 0.8 },
        );
        assert_eq!((row.median, row.min, row.max), (90.0, 80.0, 100.0));
        assert!((row.ratio() - 0.9).abs() < 1e-9);
        assert_eq!(row.met(), Some(true));
        let line = serde_json::to_string(&row).expect("json");
        assert_eq!(Row::parse(&format!("{PREFIX}{line}")), Some(row.clone()));
        assert_eq!(Row::parse(&line), None);
        let slow = Row {
            goal: Goal::Added { bound: 100.0 },
            better: Better::Lower,
            median: 2300.0,
            baseline: 2100.0,
            ..row
        };
        assert_eq!(slow.met(), Some(false));
    }
}
