//! Warnings Cassandra returns with a response, counted per kind and logged once a minute.
//!
//! Cassandra warns in a response (and in its own log) about requests it takes but does not
//! like: an unlogged batch over many partitions, a batch over its size threshold, a read
//! through many tombstones. The driver logs every one at WARN, thousands a minute under a
//! steady load, so rtds's default log filter hides the driver's line; the sink reads the
//! warnings of each response instead, counts them per kind (`rtds_cassandra_warnings_total`)
//! and logs each kind at most once a minute, with how many came since the last line.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a kind of warning is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The kind of a warning's text: a name that stays the same when tables and numbers change.
///
/// ```
/// use rtds::connectors::cassandra::warning_kind;
/// let text = "Unlogged batch covering 12 partitions detected against table [ks.users_by_country]. \
///             You should use a logged batch for atomicity, or asynchronous writes for performance.";
/// assert_eq!(warning_kind(text), "unlogged_batch_across_partitions");
/// assert_eq!(warning_kind("Batch for [ks.t] is of size 6.2KiB, exceeding specified threshold of 5.0KiB by 1.2KiB."), "batch_size");
/// assert_eq!(warning_kind("Something new"), "other");
/// ```
pub fn warning_kind(text: &str) -> &'static str {
    const KINDS: [(&str, &str); 5] = [
        ("Unlogged batch covering", "unlogged_batch_across_partitions"),
        ("exceeding specified threshold", "batch_size"),
        ("tombstone", "tombstones"),
        ("Aggregation query used without partition key", "aggregation_without_partition_key"),
        ("deprecated", "deprecated"),
    ];
    KINDS.iter().find(|(pattern, _)| text.contains(pattern)).map_or("other", |(_, kind)| kind)
}

/// Counts per kind since the process started, and what is not logged yet.
#[derive(Debug, Default)]
pub struct DatabaseWarnings {
    kinds: Mutex<BTreeMap<&'static str, Kind>>,
}

#[derive(Debug)]
struct Kind {
    total: u64,
    /// Since the last log line, with the newest text.
    unlogged: u64,
    last_text: String,
    logged_at: Option<Instant>,
}

impl DatabaseWarnings {
    /// Counts the warnings of one response (and logs a kind not logged for a minute).
    pub fn record<'a>(&self, warnings: impl Iterator<Item = &'a str>) {
        let mut warnings = warnings.peekable();
        if warnings.peek().is_none() {
            return;
        }
        let mut kinds = self.kinds.lock().expect("warnings");
        for text in warnings {
            let kind = kinds.entry(warning_kind(text)).or_insert_with(|| Kind { total: 0, unlogged: 0, last_text: String::new(), logged_at: None });
            kind.total += 1;
            kind.unlogged += 1;
            kind.last_text.clear();
            kind.last_text.push_str(text);
        }
        log_due(&mut kinds, Instant::now());
    }

    /// Logs the kinds whose last line is a minute old and that came again since; the
    /// process's reporter calls this every second, so a count is never held back long.
    pub fn log_due(&self) {
        log_due(&mut self.kinds.lock().expect("warnings"), Instant::now());
    }

    /// Warnings per kind since the process started.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.kinds.lock().expect("warnings").iter().map(|(kind, k)| (kind.to_string(), k.total)).collect()
    }
}

fn log_due(kinds: &mut BTreeMap<&'static str, Kind>, now: Instant) {
    for (name, kind) in kinds.iter_mut() {
        let due = kind.logged_at.is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if kind.unlogged > 0 && due {
            let since = if kind.logged_at.is_some() { "in the last minute" } else { "for the first time" };
            tracing::warn!(kind = name, count = kind.unlogged, last = %kind.last_text, "Cassandra returned a warning {since}");
            kind.unlogged = 0;
            kind.logged_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_warning_and_logs_a_kind_once_a_minute() {
        let warnings = DatabaseWarnings::default();
        let batch = "Unlogged batch covering 12 partitions detected against table [ks.t].";
        for _ in 0..3 {
            warnings.record([batch, "Batch for [ks.t] is of size 9KiB, exceeding specified threshold of 5KiB"].into_iter());
        }
        warnings.record(std::iter::empty());
        let totals = warnings.totals();
        assert_eq!(totals.get("unlogged_batch_across_partitions"), Some(&3));
        assert_eq!(totals.get("batch_size"), Some(&3));
        // The first of each kind was logged; the two after it wait for the minute to pass.
        let mut kinds = warnings.kinds.lock().unwrap();
        assert_eq!(kinds["batch_size"].unlogged, 2);
        let later = kinds["batch_size"].logged_at.unwrap() + LOG_EVERY;
        log_due(&mut kinds, later);
        assert_eq!(kinds["batch_size"].unlogged, 0, "logged once the minute passed");
        assert_eq!(kinds["batch_size"].total, 3);
    }
}
