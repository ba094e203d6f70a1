//! The initial snapshot: the rows a new slot's exported snapshot sees, produced in one Kafka
//! transaction with the slot's starting point, so the stream continues exactly after them.

use futures::TryStreamExt;
use tokio_postgres::types::{FromSql, ToSql, Type};

use super::schema::ValueSchemas;
use super::{CdcError, Counters};
use crate::connectors::ServiceError;
use crate::connectors::kafka::{ChangeProducer, Outgoing};
use crate::connectors::postgres;
use crate::connectors::registry::avro::Column;
use crate::model::{Change, User};

/// Produces every row of `created_users` as of `snapshot` (exported by the new slot whose
/// starting point is `point`); returns the rows sent. The slot's stream must not have started.
/// With `schemas`, rows are written in Avro under the schema of the table's columns.
pub async fn send(
    url: &str,
    snapshot: &str,
    point: u64,
    producer: &mut ChangeProducer,
    schemas: Option<&mut ValueSchemas>,
    counters: &Counters,
) -> Result<u64, CdcError> {
    // The name comes from the server; checked anyway, since SET TRANSACTION SNAPSHOT takes no
    // parameter.
    if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ServiceError::postgres(format!("unexpected snapshot name {snapshot:?}")).into());
    }
    let client = postgres::connect(url).await?;
    client
        .batch_execute(&format!("begin isolation level repeatable read read only; set transaction snapshot '{snapshot}'"))
        .await
        .map_err(ServiceError::from)?;
    let count = match schemas {
        None => send_json(&client, point, producer).await?,
        Some(schemas) => send_avro(&client, point, producer, schemas, counters).await?,
    };
    client.batch_execute("commit").await.map_err(ServiceError::from)?;
    Ok(count)
}

async fn send_json(client: &tokio_postgres::Client, point: u64, producer: &mut ChangeProducer) -> Result<u64, ServiceError> {
    let select = client
        .prepare(
            "select id, first_name, last_name, gender, address, post_code, email, username, dob, registered_date, \
             phone, picture, country from created_users",
        )
        .await?;
    let rows = client.query_raw(&select, std::iter::empty::<&dyn ToSql>()).await?;
    let mut count = 0u64;
    let records = rows.map_err(ServiceError::from).map_ok(|row| {
        count += 1;
        let text = |column| row.get::<_, Option<&str>>(column).map(crate::model::RowText::from);
        let user = User {
            id: row.get(0),
            first_name: text(1),
            last_name: text(2),
            gender: text(3),
            address: text(4),
            post_code: text(5),
            email: text(6),
            username: text(7),
            dob: row.get(8),
            registered_date: row.get(9),
            phone: text(10),
            picture: text(11),
            country: text(12),
        };
        Outgoing::Change { change: Change::Upsert(Box::new(user)), lsn: point, committed_ms: None, encoded: None }
    });
    producer.commit_stream(records, point).await?;
    Ok(count)
}

/// Every column, in the table's order (the Relation messages' order too), in Avro.
async fn send_avro(
    client: &tokio_postgres::Client,
    point: u64,
    producer: &mut ChangeProducer,
    schemas: &mut ValueSchemas,
    counters: &Counters,
) -> Result<u64, CdcError> {
    let select = client.prepare("select * from created_users").await.map_err(ServiceError::from)?;
    let columns: Vec<Column> =
        select.columns().iter().map(|c| Column { name: c.name().to_string(), type_oid: c.type_().oid() }).collect();
    let id_at = columns.iter().position(|c| c.name == "id").ok_or_else(|| CdcError::Schema("the table has no id column".into()))?;
    let encoder = schemas.register(columns, counters).await?;
    let rows = client.query_raw(&select, std::iter::empty::<&dyn ToSql>()).await.map_err(ServiceError::from)?;
    let mut count = 0u64;
    let records = rows.map_err(ServiceError::from).map_ok(|row| {
        count += 1;
        let values: Vec<Option<&[u8]>> = (0..row.len()).map(|i| row.get::<_, Option<Binary<'_>>>(i).map(|b| b.0)).collect();
        let id = values[id_at].and_then(|b| uuid::Uuid::from_slice(b).ok());
        let mut encoded = Vec::with_capacity(512);
        match (id, encoder.encode(&values, &mut encoded)) {
            (Some(id), Ok(())) => Outgoing::Change { change: Change::Upsert(Box::new(User::blank(id))), lsn: point, committed_ms: None, encoded: Some(encoded) },
            (id, outcome) => {
                let reason = outcome.err().unwrap_or_else(|| "id is not a UUID".into());
                Outgoing::Dead { id, raw: format!("created_users row of the snapshot ({} columns)", values.len()), reason, lsn: point }
            }
        }
    });
    producer.commit_stream(records, point).await?;
    Ok(count)
}

/// A value as PostgreSQL sent it, in its binary format: the Avro encoder reads those bytes.
struct Binary<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Binary<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Binary(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}
