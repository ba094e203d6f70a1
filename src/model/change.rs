//! A change to a user as it flows from PostgreSQL's log to Cassandra: the row as it is now,
//! or its removal.

use uuid::Uuid;

use super::User;

/// One committed change of `created_users`.
///
/// On Kafka an upsert is the row's JSON keyed by id, and a delete is a tombstone: the id as
/// the key and no value (what log compaction and Kafka Connect sinks expect). Downstream the
/// latest change of an id wins, in rows and aggregates alike. Versions are ordered within a
/// partition, so every change of an id must be on the same one: an upsert whose key is not
/// its row's id (or has no key, which puts it on any partition) is rejected.
///
/// ```
/// use rtds::model::Change;
/// let id = uuid::Uuid::from_u128(7);
/// let delete = Change::from_message(Some(id.to_string().as_bytes()), None).unwrap();
/// assert_eq!(delete, Change::Delete(id));
/// assert!(Change::from_message(Some(b"not a uuid"), None).unwrap_err().contains("tombstone"));
///
/// let row = br#"{"id":"00000000-0000-0000-0000-000000000007","first_name":"Ana","last_name":null,
///   "gender":null,"address":null,"post_code":null,"email":null,"username":null,"dob":null,
///   "registered_date":null,"phone":null,"picture":null,"country":null}"#;
/// let upsert = Change::from_message(Some(id.to_string().as_bytes()), Some(row)).unwrap();
/// assert_eq!(upsert.id(), id);
/// // Keyed by another id, by something else or not at all: the per-id order is lost.
/// let other = uuid::Uuid::from_u128(8).to_string();
/// for key in [Some(other.as_bytes()), Some(b"user-7".as_slice())] {
///     let reason = Change::from_message(key, Some(row)).unwrap_err();
///     assert!(reason.contains("the message key is not the row's id"), "{reason}");
///     assert!(!reason.contains("Ana") && !reason.contains("user-7"), "no values in the reason: {reason}");
/// }
/// assert!(Change::from_message(None, Some(row)).unwrap_err().contains("the key must be the row's id"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The row was inserted or updated: this is its version now. Boxed: a change moves from
    /// operator to operator several times, and a row inline is ~300 bytes to copy each time.
    Upsert(Box<User>),
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

    /// The upsert of a row read from a message's value (JSON or Avro), keyed by `key`, which
    /// must be the row's id.
    pub fn keyed(key: Option<&[u8]>, user: User) -> Result<Change, String> {
        let key = key.ok_or("a row without a message key: the key must be the row's id (versions assume one partition per id)")?;
        let keyed = std::str::from_utf8(key).ok().and_then(|k| Uuid::parse_str(k).ok());
        if keyed != Some(user.id) {
            return Err("the message key is not the row's id: versions assume one partition per id".into());
        }
        Ok(Change::Upsert(Box::new(user)))
    }

    /// A Kafka message read back: a tombstone (no value) is a delete of the id in its key;
    /// anything else must be a formatted row keyed by its id.
    pub fn from_message(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Change, String> {
        match value {
            // sonic-rs rather than serde_json: the same serde derive, trailing text refused, but
            // strings scanned with SIMD, and the whole message checked as UTF-8 (serde_json
            // checked only the strings it read); decoding is a quarter of a worker's instructions
            // (BENCHMARKS.md, "Where a worker's instructions go").
            Some(value) => Change::keyed(key, sonic_rs::from_slice(value).map_err(|_| not_a_row(value))?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: Uuid) -> Vec<u8> {
        let user = User { first_name: Some("Ana".into()), email: Some("ana@example.com".into()), ..User::blank(id) };
        serde_json::to_vec(&user).unwrap()
    }

    #[test]
    fn an_upsert_keyed_by_its_id_is_read() {
        let id = Uuid::from_u128(7);
        let change = Change::from_message(Some(id.to_string().as_bytes()), Some(&row(id))).unwrap();
        assert!(matches!(&change, Change::Upsert(user) if user.id == id && user.first_name.as_deref() == Some("Ana")));
        // The hyphenless and upper-case spellings are the same UUID.
        let simple = id.simple().to_string().to_uppercase();
        assert_eq!(Change::from_message(Some(simple.as_bytes()), Some(&row(id))).unwrap().id(), id);
    }

    #[test]
    fn an_upsert_keyed_by_another_id_or_by_something_else_is_rejected() {
        let id = Uuid::from_u128(7);
        let other = Uuid::from_u128(8).to_string();
        for key in [other.as_bytes(), b"user-7".as_slice(), b"", &[0xff, 0xfe]] {
            let reason = Change::from_message(Some(key), Some(&row(id))).unwrap_err();
            assert_eq!(reason, "the message key is not the row's id: versions assume one partition per id");
        }
    }

    #[test]
    fn an_upsert_without_a_key_is_rejected() {
        let reason = Change::from_message(None, Some(&row(Uuid::from_u128(7)))).unwrap_err();
        assert!(reason.contains("the key must be the row's id"), "{reason}");
        assert!(!reason.contains("Ana") && !reason.contains("ana@example.com"), "{reason}");
    }

    #[test]
    fn a_bad_row_is_rejected_as_such_whatever_its_key() {
        for key in [None, Some(b"user-7".as_slice())] {
            assert!(Change::from_message(key, Some(b"{not json")).unwrap_err().starts_with("not a formatted row"));
        }
    }

    #[test]
    fn a_reason_names_the_field_never_the_value() {
        let reason = Change::from_message(None, Some(br#"{"id":"ana@example.com","first_name":"Ana"}"#)).unwrap_err();
        assert_eq!(reason, "not a formatted row: field id has a value of the wrong type or form");
        let reason = Change::from_message(None, Some(br#"{"id":"5b3c1f0e-0000-4000-8000-000000000001","dob":"Ana's birthday"}"#)).unwrap_err();
        assert_eq!(reason, "not a formatted row: field dob has a value of the wrong type or form");
        let reason = Change::from_message(None, Some(b"{secret")).unwrap_err();
        assert!(reason.starts_with("not a formatted row: not JSON (line 1, column") && !reason.contains("secret"), "{reason}");
        let id = "5b3c1f0e-0000-4000-8000-000000000001";
        let reason = Change::from_message(Some(id.as_bytes()), Some(format!(r#"{{"id":"{id}"}} and more"#).as_bytes())).unwrap_err();
        assert_eq!(reason, "not a formatted row: text after the row's JSON");
        let mut bad = format!(r#"{{"id":"{id}","extra":"x"}}"#).into_bytes();
        let at = bad.iter().position(|b| *b == b'x').unwrap();
        bad[at] = 0xff;
        let reason = Change::from_message(Some(id.as_bytes()), Some(&bad)).unwrap_err();
        assert!(reason.starts_with("not a formatted row: not ") && reason != "not a formatted row: unreadable", "{reason}");
    }
}

/// Why `value` is not a formatted row, naming the field at fault and never its value (reasons
/// reach dead-letter headers and the status page; the value stays in the dead letter's payload).
fn not_a_row(value: &[u8]) -> String {
    let mut de = serde_json::Deserializer::from_slice(value);
    let reason = match serde_path_to_error::deserialize::<_, User>(&mut de) {
        // What serde_json reads as a row and sonic-rs refused: text after it, or bytes that are
        // not UTF-8 where serde_json does not look (a field it skips).
        Ok(_) => match (de.end(), std::str::from_utf8(value)) {
            (Err(_), _) => "text after the row's JSON".to_string(),
            (Ok(()), Err(e)) => format!("not UTF-8 (byte {})", e.valid_up_to()),
            (Ok(()), Ok(_)) => "unreadable".to_string(),
        },
        Err(e) => match e.inner().classify() {
            serde_json::error::Category::Data if e.path().to_string() != "." => format!("field {} has a value of the wrong type or form", e.path()),
            serde_json::error::Category::Data => "not a JSON object with the row's fields".to_string(),
            serde_json::error::Category::Eof => "the JSON ends early".to_string(),
            _ => format!("not JSON (line {}, column {})", e.inner().line(), e.inner().column()),
        },
    };
    format!("not a formatted row: {reason}")
}
