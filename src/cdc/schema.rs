//! With `--format avro`: each version of `created_users`' value schema, registered before the
//! first change that uses it.
//!
//! The snapshot's columns come from its query, the stream's from PostgreSQL's Relation
//! messages (sent before a table's first change in a session, and again after an `ALTER
//! TABLE`). A version the registry already holds keeps its id, so a restart registers
//! nothing new. A version the subject's rule (BACKWARD) refuses ends the stage: the error
//! names the columns that changed and the rule, no message of the new shape is produced, and
//! the slot stays before the change (its transaction is not confirmed), so the stage resumes
//! there once the schema is fixed.

use std::sync::atomic::Ordering;

use super::{CdcError, Counters};
use crate::connectors::postgres::pgoutput::TABLE;
use crate::connectors::registry::avro::{self, Column, Encoder};
use crate::connectors::registry::{COMPATIBILITY, RegisterError, Registry, value_subject};

/// The value schemas of the stage's topic.
pub struct ValueSchemas {
    registry: Registry,
    subject: String,
    /// The encoder of the last schema registered in this process.
    current: Option<Encoder>,
}

impl ValueSchemas {
    /// The schemas of `topic`'s values in the registry at `base`; sets the subject's rule.
    pub async fn new(base: &str, topic: &str) -> Result<ValueSchemas, CdcError> {
        let registry = Registry::new(base);
        let subject = value_subject(topic);
        registry.set_compatibility(&subject, COMPATIBILITY).await?;
        Ok(ValueSchemas { registry, subject, current: None })
    }

    /// The encoder of rows with `columns`: their schema registered (or found registered).
    pub async fn register(&mut self, columns: Vec<Column>, counters: &Counters) -> Result<Encoder, CdcError> {
        if let Some(current) = self.current.as_ref().filter(|c| c.columns() == columns) {
            return Ok(current.clone());
        }
        let schema = avro::value_schema(TABLE, &columns).map_err(CdcError::Schema)?;
        match self.registry.register(&self.subject, &schema).await {
            Ok(registered) => {
                tracing::info!(subject = %self.subject, version = registered.version, id = registered.id, "value schema registered");
                self.subject.clone_into(&mut counters.schema_subject.lock().expect("schema subject"));
                counters.schema_id.store(u64::from(registered.id), Ordering::Relaxed);
                counters.schema_version.store(u64::from(registered.version), Ordering::Relaxed);
                let encoder = Encoder::new(columns, registered.id).map_err(CdcError::Schema)?;
                self.current = Some(encoder.clone());
                Ok(encoder)
            }
            Err(RegisterError::Service(e)) => Err(e.into()),
            Err(RegisterError::Incompatible { rule, message }) => {
                let old = match &self.current {
                    Some(current) => current.columns().to_vec(),
                    None => self.registry.latest(&self.subject).await?.map(|r| avro::schema_columns(&r.schema)).unwrap_or_default(),
                };
                let changes = avro::column_changes(&old, &columns);
                let changes = if changes.is_empty() { "the table's columns changed".to_string() } else { changes.join(", ") };
                Err(CdcError::Incompatible { subject: self.subject.clone(), changes, rule, message })
            }
        }
    }
}
