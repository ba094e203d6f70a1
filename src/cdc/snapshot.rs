//! The initial snapshot: the rows a new slot's exported snapshot sees, produced in one Kafka
//! transaction with the slot's starting point, so the stream continues exactly after them.

use futures::TryStreamExt;
use tokio_postgres::types::ToSql;

use crate::connectors::ServiceError;
use crate::connectors::kafka::{ChangeProducer, Outgoing};
use crate::connectors::postgres;
use crate::model::{Change, User};

/// Produces every row of `created_users` as of `snapshot` (exported by the new slot whose
/// starting point is `point`); returns the rows sent. The slot's stream must not have started.
pub async fn send(url: &str, snapshot: &str, point: u64, producer: &mut ChangeProducer) -> Result<u64, ServiceError> {
    // The name comes from the server; checked anyway, since SET TRANSACTION SNAPSHOT takes no
    // parameter.
    if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ServiceError::postgres(format!("unexpected snapshot name {snapshot:?}")));
    }
    let client = postgres::connect(url).await?;
    client.batch_execute(&format!("begin isolation level repeatable read read only; set transaction snapshot '{snapshot}'")).await?;
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
        let user = User {
            id: row.get(0),
            first_name: row.get(1),
            last_name: row.get(2),
            gender: row.get(3),
            address: row.get(4),
            post_code: row.get(5),
            email: row.get(6),
            username: row.get(7),
            dob: row.get(8),
            registered_date: row.get(9),
            phone: row.get(10),
            picture: row.get(11),
            country: row.get(12),
        };
        Outgoing::Change { change: Change::Upsert(user), lsn: point, committed_ms: None }
    });
    producer.commit_stream(records, point).await?;
    client.batch_execute("commit").await?;
    Ok(count)
}
