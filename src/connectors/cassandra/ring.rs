//! The Murmur3 token ring: which rows share replicas, and equal shares of it to scan.

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

    /// The range `token` falls in, as an index; a token past the last one wraps to the
    /// first range, as on the ring.
    ///
    /// ```
    /// use rtds::connectors::cassandra::TokenRanges;
    /// let ring = TokenRanges::new(vec![100, -100]);
    /// assert_eq!(ring.range_of(-100), 0);
    /// assert_eq!(ring.range_of(0), 1);
    /// assert_eq!(ring.range_of(100), 1);
    /// assert_eq!(ring.range_of(101), 0, "wraps around");
    /// assert_eq!(TokenRanges::default().range_of(5), 0, "no ring known yet: one range");
    /// ```
    pub fn range_of(&self, token: i64) -> usize {
        let index = self.tokens.partition_point(|t| *t < token);
        if index == self.tokens.len() { 0 } else { index }
    }
}

/// Share `index` of `shares` equal slices of the Murmur3 token ring, inclusive bounds.
pub fn token_share(index: usize, shares: usize) -> (i64, i64) {
    let span = (u64::MAX / shares as u64) as i128;
    let low = i64::MIN as i128 + span * index as i128;
    let high = if index + 1 == shares { i64::MAX as i128 } else { low + span - 1 };
    (low as i64, high as i64)
}

