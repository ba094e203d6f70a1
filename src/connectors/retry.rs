//! One retry policy for every write to a service.
//!
//! Errors have two classes ([`ServiceError::is_transient`]): transient ones (a timeout, a
//! node away or overloaded, a lost connection) are retried with exponential backoff and
//! jitter, without a limit, so an outage holds work back instead of losing it; permanent
//! ones (the store refused the request itself: an invalid request, a batch too large, a value
//! it will not take) are returned at once, since sending the same request again cannot help.
//! The caller decides what a permanent failure means: the rows sink splits the batch down to
//! the row and dead-letters the row at fault.
//!
//! Failures are counted per process ([`failures`]) and logged at most every few seconds
//! with how many there were, so an outage does not flood the log.

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::ServiceError;

/// The backoff between attempts: 50 ms doubling up to 5 s, with jitter so that many writers
/// that failed together do not come back together.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

/// Runs `attempt` until it succeeds or fails permanently; transient failures are retried.
pub async fn until_permanent<T, F, Fut>(what: &str, attempt: F) -> Result<T, ServiceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    attempt.retry(backoff()).when(ServiceError::is_transient).notify(|e: &ServiceError, _| note_failure(what, e)).await.inspect_err(|e| note_failure(what, e))
}

/// Runs `attempt` until it succeeds, whatever the failure: for writes that have no row to
/// blame (offsets, aggregate values), where giving up would lose the epoch. A permanent
/// failure here is a bug or a schema changed by hand, and is logged as an error.
pub async fn forever<T, F, Fut>(what: &str, attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let outcome = attempt.retry(backoff()).notify(|e: &ServiceError, _| note_failure(what, e)).await;
    outcome.unwrap_or_else(|_| unreachable!("the backoff has no limit"))
}

/// Write attempts of this process that failed (transient or not), so far.
pub fn failures() -> u64 {
    FAILURES.load(Ordering::Relaxed)
}

static FAILURES: AtomicU64 = AtomicU64::new(0);
static UNLOGGED: AtomicU64 = AtomicU64::new(0);
static LAST_LOGGED_MS: AtomicI64 = AtomicI64::new(0);

fn note_failure(what: &str, error: &ServiceError) {
    FAILURES.fetch_add(1, Ordering::Relaxed);
    UNLOGGED.fetch_add(1, Ordering::Relaxed);
    let now = crate::clock::now().timestamp_millis();
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    if now - last < 3000 || LAST_LOGGED_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return;
    }
    let failures = UNLOGGED.swap(0, Ordering::Relaxed);
    if error.is_transient() {
        tracing::warn!(%error, what, failures, "Cassandra write failed; retrying");
    } else {
        tracing::error!(%error, what, failures, "Cassandra refused a write");
    }
}
