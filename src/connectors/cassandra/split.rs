//! Writing rows in bounded batches, and finding the row at fault when a batch is refused.
//!
//! Rows go in batches of at most `max_rows` rows and `max_bytes` bytes (a row bigger than
//! that goes alone). A transient failure is retried as it is (see [`crate::connectors::retry`]);
//! a batch the store refuses is split in halves, and the halves written (each retried, each
//! split again if refused), down to the single row. What is refused alone is returned with the
//! store's own error, for the caller to dead-letter: one bad row never holds the others back.

use std::future::Future;
use std::ops::Range;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::connectors::ServiceError;
use crate::connectors::retry;

/// Consecutive ranges of `items` holding at most `max_rows` items and `max_bytes` bytes each
/// (by `size`); an item bigger than `max_bytes` gets a range of its own.
///
/// ```
/// let sizes = [100, 100, 100, 500, 100];
/// let ranges = rtds::connectors::cassandra::batches(&sizes, 10, 250, |s| *s);
/// assert_eq!(ranges, vec![0..2, 2..3, 3..4, 4..5]);
/// assert_eq!(rtds::connectors::cassandra::batches(&sizes, 2, 10_000, |s| *s), vec![0..2, 2..4, 4..5]);
/// ```
pub fn batches<T>(items: &[T], max_rows: usize, max_bytes: usize, size: impl Fn(&T) -> usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        let item_bytes = size(item);
        if index > start && (index - start >= max_rows.max(1) || bytes + item_bytes > max_bytes) {
            ranges.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes += item_bytes;
    }
    if start < items.len() {
        ranges.push(start..items.len());
    }
    ranges
}

/// Writes `rows` with `write` (one request for the slice it is given), splitting what the
/// store refuses down to the row; returns the rows refused alone, with the store's error.
pub fn write_splitting<'a: 'w, 'w, T, W, Fut>(rows: &'a [T], write: &'w W) -> BoxFuture<'w, Vec<(&'a T, ServiceError)>>
where
    T: Sync,
    W: Fn(&'a [T]) -> Fut + Sync,
    Fut: Future<Output = Result<(), ServiceError>> + Send + 'a,
{
    async move {
        match retry::until_permanent("rows", || write(rows)).await {
            Ok(()) => Vec::new(),
            Err(error) if rows.len() == 1 => vec![(&rows[0], error)],
            Err(_) => {
                let (left, right) = rows.split_at(rows.len() / 2);
                let mut refused = write_splitting(left, write).await;
                refused.extend(write_splitting(right, write).await);
                refused
            }
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A store that refuses any request holding a negative number, and fails every third
    /// request transiently.
    struct FakeStore {
        written: Mutex<Vec<i64>>,
        requests: Mutex<u32>,
    }

    impl FakeStore {
        async fn write(&self, rows: &[i64]) -> Result<(), ServiceError> {
            let request = {
                let mut n = self.requests.lock().unwrap();
                *n += 1;
                *n
            };
            if request % 3 == 0 {
                return Err(ServiceError::Failed { service: "Fake", message: "timed out".into() });
            }
            if let Some(bad) = rows.iter().find(|r| **r < 0) {
                return Err(ServiceError::Refused { service: "Fake", message: format!("{bad} is negative") });
            }
            self.written.lock().unwrap().extend_from_slice(rows);
            Ok(())
        }
    }

    fn writer<'a>(store: &'a FakeStore) -> impl Fn(&'a [i64]) -> BoxFuture<'a, Result<(), ServiceError>> + Sync + 'a {
        move |batch| store.write(batch).boxed()
    }

    #[tokio::test]
    async fn a_refused_batch_is_split_down_to_the_rows_at_fault() {
        let store = FakeStore { written: Mutex::default(), requests: Mutex::default() };
        let rows: Vec<i64> = (1..=20).map(|n| if n == 7 || n == 16 { -n } else { n }).collect();
        let write = writer(&store);
        let mut refused = Vec::new();
        for range in batches(&rows, 8, usize::MAX, |_| 1) {
            refused.extend(write_splitting(&rows[range], &write).await.into_iter().map(|(row, e)| (*row, e.to_string())));
        }
        assert_eq!(refused.iter().map(|(row, _)| *row).collect::<Vec<_>>(), vec![-7, -16]);
        assert!(refused[0].1.contains("-7 is negative"), "the store's own message: {}", refused[0].1);
        let mut written = store.written.lock().unwrap().clone();
        written.sort();
        let good: Vec<i64> = rows.iter().copied().filter(|r| *r > 0).collect();
        assert_eq!(written, good, "every other row was written once, transient failures retried");
    }
}
