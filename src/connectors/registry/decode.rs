//! The workers' side of the registry: a message in the Confluent wire format read by its
//! writer schema, fetched once per id and cached for the process's life (a schema id never
//! changes meaning).
//!
//! Writer and reader are resolved by field name, through serde: the formatted row's fields
//! ([`crate::model::User`], the columns a dataflow may declare) are read from the writer's
//! fields of the same name; a writer field the row does not have (a column added upstream
//! that no dataflow declares yet) is skipped, and a row field the writer lacks is NULL. A
//! field of another type than the row's is an error naming it. Every failure is the record's
//! reason for the dead-letter topic: an unknown id, bytes that are not Avro of their schema,
//! or a registry still unreachable after [`FETCH_ATTEMPTS`] attempts (about 10 s); records of
//! ids already cached go on through a registry outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use super::Registry;
use super::avro::MAGIC;
use crate::model::{RowText, User};

/// Attempts to fetch a schema before its records go to the dead-letter topic.
pub const FETCH_ATTEMPTS: usize = 8;

/// A cached writer schema and how many records it has read.
struct Writer {
    schema: serde_avro_fast::Schema,
    records: AtomicU64,
}

/// The process's writer schemas, by id.
pub struct Schemas {
    registry: Option<String>,
    by_id: RwLock<HashMap<u32, Arc<Writer>>>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").field("registry", &self.registry).field("ids", &self.per_id()).finish()
    }
}

/// Whether a message value is in the Confluent wire format (JSON rows start with `{`).
pub fn is_framed(value: &[u8]) -> bool {
    value.first() == Some(&MAGIC)
}

/// The row as the writer wrote it: every field the formatted row may hold, by name.
#[derive(Deserialize)]
struct AvroUser {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    gender: Option<String>,
    address: Option<String>,
    post_code: Option<String>,
    email: Option<String>,
    username: Option<String>,
    /// timestamp-micros
    dob: Option<i64>,
    registered_date: Option<i64>,
    phone: Option<String>,
    picture: Option<String>,
    country: Option<String>,
}

impl Schemas {
    /// Schemas fetched from the registry at `registry` (its Confluent API base); `None`: no
    /// registry, and every framed message is a dead letter saying so.
    pub fn new(registry: Option<String>) -> Schemas {
        Schemas { registry, by_id: RwLock::default() }
    }

    /// Caches schema `id` as if fetched (benchmarks and tests without a registry).
    pub fn preload(&self, id: u32, schema: &str) -> Result<(), String> {
        let schema = schema.parse().map_err(|e| format!("schema id {id} is not an Avro schema rtds can read: {e}"))?;
        self.by_id.write().expect("schemas lock").insert(id, Arc::new(Writer { schema, records: AtomicU64::new(0) }));
        Ok(())
    }

    /// Records read per schema id, by id.
    pub fn per_id(&self) -> Vec<(u32, u64)> {
        let mut ids: Vec<(u32, u64)> =
            self.by_id.read().expect("schemas lock").iter().map(|(id, w)| (*id, w.records.load(Ordering::Relaxed))).collect();
        ids.sort_unstable();
        ids
    }

    /// Reads a framed message's row.
    pub fn decode(&self, value: &[u8]) -> Result<User, String> {
        if value.len() < 5 || value[0] != MAGIC {
            return Err("not in the Confluent wire format (magic byte 0, then a 4-byte schema id)".into());
        }
        let id = u32::from_be_bytes(value[1..5].try_into().expect("4 bytes"));
        let writer = self.writer(id)?;
        writer.records.fetch_add(1, Ordering::Relaxed);
        let row: AvroUser = serde_avro_fast::from_datum_slice(&value[5..], &writer.schema)
            .map_err(|e| format!("not Avro of schema id {id}: {e}"))?;
        let id = Uuid::parse_str(&row.id).map_err(|_| "field id is not a UUID".to_string())?;
        let time = |field: &str, micros: Option<i64>| {
            micros
                .map(|m| chrono::DateTime::from_timestamp_micros(m).ok_or_else(|| format!("field {field} is out of range")))
                .transpose()
        };
        Ok(User {
            id,
            first_name: row.first_name.map(RowText::from),
            last_name: row.last_name.map(RowText::from),
            gender: row.gender.map(RowText::from),
            address: row.address.map(RowText::from),
            post_code: row.post_code.map(RowText::from),
            email: row.email.map(RowText::from),
            username: row.username.map(RowText::from),
            dob: time("dob", row.dob)?,
            registered_date: time("registered_date", row.registered_date)?,
            phone: row.phone.map(RowText::from),
            picture: row.picture.map(RowText::from),
            country: row.country.map(RowText::from),
        })
    }

    /// The writer schema `id`, from the cache or the registry.
    fn writer(&self, id: u32) -> Result<Arc<Writer>, String> {
        if let Some(writer) = self.by_id.read().expect("schemas lock").get(&id) {
            return Ok(writer.clone());
        }
        let Some(base) = self.registry.clone() else {
            return Err(format!(
                "an Avro message (schema id {id}) and no Schema Registry: set {} or --schema-registry",
                super::REGISTRY_ENV
            ));
        };
        let text = fetch(base, id)?;
        let schema: serde_avro_fast::Schema =
            text.parse().map_err(|e| format!("schema id {id} is not an Avro schema rtds can read: {e}"))?;
        let writer = Arc::new(Writer { schema, records: AtomicU64::new(0) });
        Ok(self.by_id.write().expect("schemas lock").entry(id).or_insert(writer).clone())
    }
}

/// Fetches schema `id`, retrying an unreachable registry; called from a worker thread, so
/// the request runs on a thread of its own with its own small runtime (once per id).
fn fetch(base: String, id: u32) -> Result<String, String> {
    let attempt = move || -> Result<String, String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let registry = Registry::new(&base);
            let mut wait = Duration::from_millis(100);
            let mut last = String::new();
            for _ in 0..FETCH_ATTEMPTS {
                match registry.schema(id).await {
                    Ok(Some(schema)) => return Ok(schema),
                    Ok(None) => return Err(format!("schema id {id} is unknown to the registry at {base}")),
                    Err(e) if !e.is_transient() => return Err(format!("schema id {id}: {e}")),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(3));
            }
            Err(format!("schema id {id}: the registry stayed unreachable after {FETCH_ATTEMPTS} attempts ({last})"))
        })
    };
    std::thread::spawn(attempt).join().unwrap_or_else(|_| Err("fetching a schema panicked".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_a_missing_registry_are_reasons() {
        let schemas = Schemas::new(None);
        assert!(is_framed(&[0, 0, 0, 0, 1]) && !is_framed(b"{}"));
        assert!(schemas.decode(&[0, 1]).unwrap_err().contains("Confluent wire format"));
        let reason = schemas.decode(&[0, 0, 0, 0, 9, 2]).unwrap_err();
        assert!(reason.contains("schema id 9") && reason.contains("RTDS_SCHEMA_REGISTRY"), "{reason}");
    }

    #[test]
    fn an_unreachable_registry_is_a_reason_after_its_attempts() {
        // Nothing listens on port 9 of loopback (discard is not served here).
        let schemas = Schemas::new(Some("http://127.0.0.1:9/apis/ccompat/v7".into()));
        let reason = schemas.decode(&[0, 0, 0, 0, 5, 2]).unwrap_err();
        assert!(reason.contains("stayed unreachable"), "{reason}");
    }

    #[test]
    fn a_cached_writer_reads_rows_and_names_a_mistyped_field() {
        use super::super::avro::{Column, Encoder, value_schema};
        let columns: Vec<Column> = [("id", 2950), ("email", 25), ("dob", 1184), ("extra", 23)]
            .into_iter()
            .map(|(name, type_oid)| Column { name: name.into(), type_oid })
            .collect();
        let schemas = Schemas::new(None);
        let schema = value_schema("created_users", &columns).unwrap().parse().unwrap();
        schemas.by_id.write().unwrap().insert(4, Arc::new(Writer { schema, records: AtomicU64::new(0) }));
        let id = Uuid::from_u128(5);
        let mut message = Vec::new();
        let dob = 0i64.to_be_bytes();
        Encoder::new(columns.clone(), 4).unwrap().encode(&[Some(id.as_bytes()), Some(b"a@b.c"), Some(&dob), Some(&[0, 0, 0, 1])], &mut message).unwrap();
        let user = schemas.decode(&message).unwrap();
        assert_eq!((user.id, user.email.as_deref(), user.dob.map(|d| d.timestamp()), user.phone), (id, Some("a@b.c"), Some(946_684_800), None));
        assert_eq!(schemas.per_id(), [(4, 1)]);

        // A writer whose email is an int: the field is named.
        let mistyped: Vec<Column> = vec![Column { name: "id".into(), type_oid: 2950 }, Column { name: "email".into(), type_oid: 23 }];
        let schema = value_schema("created_users", &mistyped).unwrap().parse().unwrap();
        schemas.by_id.write().unwrap().insert(6, Arc::new(Writer { schema, records: AtomicU64::new(0) }));
        let mut message = Vec::new();
        Encoder::new(mistyped, 6).unwrap().encode(&[Some(id.as_bytes()), Some(&7i32.to_be_bytes())], &mut message).unwrap();
        let reason = schemas.decode(&message).unwrap_err();
        assert!(reason.starts_with("not Avro of schema id 6"), "{reason}");
    }
}
