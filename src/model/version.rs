//! Where a change stands among the versions of its id, from the data alone.
//!
//! A change's version is the end LSN of its PostgreSQL commit (the `rtds-lsn` header `rtds
//! cdc` writes): PostgreSQL's commit order, a total order of transactions that every machine
//! agrees on, whatever its clock says. Within one commit an id changes once (the CDC stage
//! sends a transaction's last change of each row), and an id is keyed to one partition, so the
//! Kafka offset only breaks ties that cannot otherwise arise.
//!
//! A message without `rtds-lsn` (a topic another producer writes) is ordered by its offset in
//! its partition, which stands in for the LSN. The two orders are not comparable: a topic holds
//! one kind or the other.
//!
//! ```
//! use rtds::model::Version;
//! let older = Version::of(Some(1_000), 7);
//! let newer = Version::of(Some(2_000), 3);
//! assert!(newer > older, "the later commit wins, wherever it sits in Kafka");
//! assert!(Version::STORED < older, "a row read back from the store is older than anything read again");
//! assert_eq!(Version::of(None, 42).write_time(), 42, "without an LSN the offset orders");
//! ```

use serde::{Deserialize, Serialize};

/// A change's place in the order of its id's versions: a later one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The end LSN of the change's PostgreSQL commit, or its Kafka offset without one.
    pub order: u64,
    /// The Kafka offset, which breaks ties.
    pub offset: i64,
}

impl Version {
    /// The version of a row read back from the store after a restart: older than every change
    /// read from Kafka, since the store only ever held what was read from there.
    pub const STORED: Version = Version { order: 0, offset: -1 };

    /// The version of a message with the LSN it carries (if any) at `offset`.
    pub fn of(lsn: Option<u64>, offset: i64) -> Version {
        Version { order: lsn.unwrap_or(offset.max(0) as u64), offset }
    }

    /// The Cassandra write time (`USING TIMESTAMP`) of the change: its order, so a later
    /// version overwrites an earlier one whichever write lands first, and a replay of the same
    /// version changes nothing.
    pub fn write_time(self) -> i64 {
        i64::try_from(self.order).unwrap_or(i64::MAX)
    }
}
