//! The Murmur3 token ring: which rows share replicas, and equal shares of it to scan.

use std::ops::Range;

/// The ring's token ranges: Cassandra gives range `(previous token, token]` to the node at
/// `token`, and every replica of a keyspace's strategy follows from that node, so rows whose
/// tokens fall in one range share their replicas.
#[derive(Debug, Clone, Default)]
pub struct TokenRanges {
    /// The ring's tokens, sorted.
    tokens: Vec<i64>,
}

impl TokenRanges {
    /// The ranges that end at `tokens` (any order).
    pub fn new(mut tokens: Vec<i64>) -> TokenRanges {
        tokens.sort_unstable();
        TokenRanges { tokens }
    }

    /// Cuts `sorted` (sorted by `token`) where a range of the ring ends, so that each part
    /// holds rows of one range. It asks for `O(ranges × log rows)` tokens, not one per row:
    /// the rows are already sorted. The rows past the last ring token wrap to the first range,
    /// so they share its replicas but get a part of their own.
    ///
    /// ```
    /// use rtds::connectors::cassandra::TokenRanges;
    /// let tokens = [-150, -100, -20, 0, 90, 100, 200];
    /// let parts = TokenRanges::new(vec![100, -100]).parts(&tokens, |t| *t);
    /// assert_eq!(parts, vec![0..2, 2..6, 6..7]);
    /// assert_eq!(TokenRanges::default().parts(&tokens, |t| *t), vec![0..7], "no ring known yet: one part");
    /// ```
    pub fn parts<T>(&self, sorted: &[T], token: impl Fn(&T) -> i64) -> Vec<Range<usize>> {
        let mut parts = Vec::new();
        let mut start = 0;
        for ring_token in &self.tokens {
            let end = start + sorted[start..].partition_point(|item| token(item) <= *ring_token);
            if end > start {
                parts.push(start..end);
                start = end;
            }
        }
        if start < sorted.len() {
            parts.push(start..sorted.len());
        }
        parts
    }
}

/// Share `index` of `shares` equal slices of the Murmur3 token ring, inclusive bounds.
pub fn token_share(index: usize, shares: usize) -> (i64, i64) {
    let span = (u64::MAX / shares as u64) as i128;
    let low = i64::MIN as i128 + span * index as i128;
    let high = if index + 1 == shares { i64::MAX as i128 } else { low + span - 1 };
    (low as i64, high as i64)
}

