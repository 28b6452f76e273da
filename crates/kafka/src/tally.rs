//! Failed deliveries, logged with counts: one line per cause per interval, not one per
//! record. A broker that refuses a batch fails every record in it at once, and a line per
//! record would bury the log (18,322 lines for one refused backlog in issue #21).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What happened to the records of one cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CauseCount {
    /// A short, stable name: `retried`, `split-and-resent`, `too-large`, ...
    pub outcome: &'static str,
    /// The error text of the last record counted (librdkafka's wording).
    pub error: String,
    /// The topics the records were meant for, in order, without repeats.
    pub topics: Vec<String>,
    pub records: u64,
}

/// Counts failed deliveries by (outcome, error code) and hands them out once per interval.
#[derive(Debug)]
pub struct FailureTally {
    interval: Duration,
    since: Instant,
    counts: BTreeMap<(&'static str, String), CauseCount>,
}

impl FailureTally {
    pub fn new(interval: Duration) -> Self {
        FailureTally {
            interval,
            since: Instant::now(),
            counts: BTreeMap::new(),
        }
    }

    /// Counts one record. `code` groups the causes (e.g. `MessageSizeTooLarge`); `error` is
    /// kept for the log line.
    pub fn count(&mut self, outcome: &'static str, code: &str, error: &str, topic: &str) {
        let c = self
            .counts
            .entry((outcome, code.to_string()))
            .or_insert_with(|| CauseCount {
                outcome,
                error: String::new(),
                topics: Vec::new(),
                records: 0,
            });
        c.records += 1;
        error.clone_into(&mut c.error);
        if !c.topics.iter().any(|t| t == topic) {
            c.topics.push(topic.to_string());
        }
    }

    /// The counts of the interval that ended, if one did (or with `force`), and an empty
    /// tally for the next one.
    pub fn due(&mut self, now: Instant, force: bool) -> Option<(Duration, Vec<CauseCount>)> {
        let span = now.saturating_duration_since(self.since);
        if self.counts.is_empty() || (!force && span < self.interval) {
            return None;
        }
        self.since = now;
        let counts = std::mem::take(&mut self.counts).into_values().collect();
        Some((span, counts))
    }

    /// Logs the interval's counts as WARN lines, one per cause, when an interval ended (or
    /// with `force`, at shutdown). `what` names the producer (`streams`, `agent`).
    pub fn log_due(&mut self, what: &str, force: bool) {
        if self.counts.is_empty() {
            return;
        }
        let Some((span, counts)) = self.due(Instant::now(), force) else {
            return;
        };
        for c in counts {
            tracing::warn!(
                producer = what,
                outcome = c.outcome,
                records = c.records,
                topics = %c.topics.join(","),
                error = %c.error,
                interval = ?span,
                "deliveries failed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_cause_per_interval() {
        let mut t = FailureTally::new(Duration::from_secs(10));
        let start = t.since;
        for i in 0..1000 {
            let topic = if i % 2 == 0 { "a" } else { "b" };
            t.count(
                "split-and-resent",
                "MessageSizeTooLarge",
                "too large",
                topic,
            );
        }
        t.count("retried", "RequestTimedOut", "timed out", "a");
        assert!(t.due(start + Duration::from_secs(1), false).is_none());
        let (_, counts) = t.due(start + Duration::from_secs(10), false).unwrap();
        assert_eq!(counts.len(), 2);
        let split = counts
            .iter()
            .find(|c| c.outcome == "split-and-resent")
            .unwrap();
        assert_eq!(split.records, 1000);
        assert_eq!(split.topics, vec!["a", "b"]);
        assert!(
            t.due(start + Duration::from_secs(30), true).is_none(),
            "nothing left"
        );
        t.count("too-large", "MessageSizeTooLarge", "x", "a");
        assert_eq!(
            t.due(start + Duration::from_secs(11), true)
                .unwrap()
                .1
                .len(),
            1,
            "a forced report does not wait for the interval"
        );
    }
}
