//! A change to a user as it flows from PostgreSQL's log to Cassandra: the row as it is now,
//! or its removal.

use uuid::Uuid;

use super::User;

/// One committed change of `created_users`.
///
/// On Kafka an upsert is the row's JSON keyed by id, and a delete is a tombstone: the id as
/// the key and no value (what log compaction and Kafka Connect sinks expect). Downstream the
/// latest change of an id wins, in rows and aggregates alike.
///
/// ```
/// use rtds::model::Change;
/// let id = uuid::Uuid::from_u128(7);
/// let delete = Change::from_message(Some(id.to_string().as_bytes()), None).unwrap();
/// assert_eq!(delete, Change::Delete(id));
/// assert!(Change::from_message(Some(b"not a uuid"), None).unwrap_err().contains("tombstone"));
/// ```
// Most changes are upserts: boxing the row would cost an allocation per record to save the
// bytes of the rare delete.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The row was inserted or updated: this is its version now.
    Upsert(User),
    /// The row was deleted.
    Delete(Uuid),
}

impl Change {
    /// The id the change is about.
    pub fn id(&self) -> Uuid {
        match self {
            Change::Upsert(user) => user.id,
            Change::Delete(id) => *id,
        }
    }

    /// A Kafka message read back: a tombstone (no value) is a delete of the id in its key;
    /// anything else must be a formatted row.
    pub fn from_message(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Change, String> {
        match value {
            Some(value) => {
                serde_json::from_slice(value).map(Change::Upsert).map_err(|e| format!("not a formatted row: {e}"))
            }
            None => {
                let key = key.ok_or("a tombstone without a key: no id to delete")?;
                std::str::from_utf8(key)
                    .ok()
                    .and_then(|k| Uuid::parse_str(k).ok())
                    .map(Change::Delete)
                    .ok_or_else(|| format!("a tombstone whose key {:?} is not a user id", String::from_utf8_lossy(key)))
            }
        }
    }
}
