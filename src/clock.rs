//! The wall clock as rtds reads it: [`now`].
//!
//! Nothing that orders data or decides a result reads it: a change's version comes from the
//! data (its commit LSN, its offset), epochs are a logical count from a monotonic timer, and
//! checks judge a record against its own commit time. The wall clock serves latencies, logs,
//! the day age bands are counted on, and the status page.
//!
//! Tests set a cluster's clock back with [`OFFSET_ENV`] (seconds, negative for behind), read once
//! per process and inherited by the processes a master starts, to show that no result depends
//! on it. (libfaketime, the usual tool, stalls librdkafka's timed waits, so it cannot run rtds.)

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};

/// Shifts [`now`] by this many seconds; for tests only.
pub const OFFSET_ENV: &str = "RTDS_TEST_CLOCK_OFFSET";

/// The offset [`OFFSET_ENV`] sets, if any.
pub fn offset() -> Option<TimeDelta> {
    static OFFSET: OnceLock<Option<TimeDelta>> = OnceLock::new();
    *OFFSET.get_or_init(|| std::env::var(OFFSET_ENV).ok()?.trim().parse::<i64>().ok().map(TimeDelta::seconds))
}

/// The wall clock, shifted by [`OFFSET_ENV`] when a test sets it.
///
/// ```
/// let (before, now) = (chrono::Utc::now(), rtds::clock::now());
/// assert!((now - before).num_seconds().abs() < 5, "no offset set: the system's clock");
/// ```
pub fn now() -> DateTime<Utc> {
    match offset() {
        Some(offset) => Utc::now() + offset,
        None => Utc::now(),
    }
}
