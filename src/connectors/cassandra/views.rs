//! The tables of a dataflow's views: one per view, created from its columns and types with
//! its key (the `GROUP BY` columns) as the partition key, and the statements that upsert a
//! row, delete a key and read the table back.
//!
//! A table that exists with other columns (the view was edited) is refused with the fix:
//! its contents are derived, so dropping it loses nothing.

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue};

use super::tables::check_identifier;
use crate::connectors::ServiceError;
use crate::sql::{Datum, Row, Type, View};

/// A view's table and its prepared statements.
pub struct ViewTable {
    pub name: String,
    /// Column names and types, in the view's order.
    pub columns: Vec<(String, Type)>,
    /// The key columns' indices.
    pub key: Vec<usize>,
    insert: PreparedStatement,
    delete: PreparedStatement,
    /// Every column, `LIMIT ?`.
    select: PreparedStatement,
    /// The key columns of every row.
    select_keys: PreparedStatement,
}

impl ViewTable {
    /// Creates the view's table if missing (checking an existing one has its columns) and
    /// prepares its statements.
    pub async fn prepare(session: &Session, keyspace: &str, view: &View, consistency: Consistency) -> Result<ViewTable, ServiceError> {
        check_identifier("view", &view.name)?;
        let columns: Vec<(String, Type)> = view.outputs.iter().map(|o| (o.column.name.clone(), o.column.ty)).collect();
        let cql_type = |ty: Type| ty.cql_name().ok_or_else(|| ServiceError::cassandra(format!("view {}: a {ty} column cannot be stored", view.name)));
        let mut definitions = Vec::new();
        for (name, ty) in &columns {
            check_identifier("column", name)?;
            definitions.push(format!("{name} {}", cql_type(*ty)?));
        }
        let key_names: Vec<&str> = view.key.iter().map(|i| columns[*i].0.as_str()).collect();
        let name = &view.name;
        let ddl = format!("CREATE TABLE IF NOT EXISTS {keyspace}.{name} ({}, PRIMARY KEY (({})))", definitions.join(", "), key_names.join(", "));
        session.query_unpaged(ddl, &[]).await.map_err(ServiceError::cassandra)?;
        session.await_schema_agreement().await.map_err(ServiceError::cassandra)?;
        check_columns(session, keyspace, view, &columns, &key_names).await?;
        let prepare = |cql: String| async move {
            let mut statement = session.prepare(cql).await.map_err(ServiceError::cassandra)?;
            statement.set_consistency(consistency);
            Ok::<_, ServiceError>(statement)
        };
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let marks = vec!["?"; columns.len()].join(", ");
        let insert = prepare(format!("INSERT INTO {keyspace}.{name} ({}) VALUES ({marks}) USING TIMESTAMP ?", names.join(", "))).await?;
        let key_match = key_names.iter().map(|k| format!("{k} = ?")).collect::<Vec<_>>().join(" AND ");
        let delete = prepare(format!("DELETE FROM {keyspace}.{name} USING TIMESTAMP ? WHERE {key_match}")).await?;
        let select = prepare(format!("SELECT {} FROM {keyspace}.{name} LIMIT ?", names.join(", "))).await?;
        let select_keys = prepare(format!("SELECT {} FROM {keyspace}.{name}", key_names.join(", "))).await?;
        Ok(ViewTable { name: name.clone(), columns, key: view.key.clone(), insert, delete, select, select_keys })
    }

    /// Upserts a view row at `timestamp`.
    pub fn insert_values(&self, row: &Row, timestamp: i64) -> Vec<Option<CqlValue>> {
        let mut values: Vec<Option<CqlValue>> = row.iter().map(to_cql).collect();
        values.push(Some(CqlValue::BigInt(timestamp)));
        values
    }

    /// Deletes a view key at `timestamp`.
    pub fn delete_values(&self, key: &Row, timestamp: i64) -> Vec<Option<CqlValue>> {
        std::iter::once(Some(CqlValue::BigInt(timestamp))).chain(key.iter().map(to_cql)).collect()
    }

    pub fn insert(&self) -> &PreparedStatement {
        &self.insert
    }

    pub fn delete(&self) -> &PreparedStatement {
        &self.delete
    }

    /// At most `limit` rows of the table (in token order), as datums of the view's types,
    /// sorted.
    pub async fn read(&self, session: &Session, limit: usize) -> Result<Vec<Row>, ServiceError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let pager = session.execute_iter(self.select.clone(), (limit,)).await.map_err(ServiceError::cassandra)?;
        let types: Vec<Type> = self.columns.iter().map(|(_, t)| *t).collect();
        let mut rows = read_rows(pager, &types).await?;
        rows.sort();
        Ok(rows)
    }

    /// The key of every row of the table.
    pub async fn read_keys(&self, session: &Session) -> Result<Vec<Row>, ServiceError> {
        let pager = session.execute_iter(self.select_keys.clone(), &[]).await.map_err(ServiceError::cassandra)?;
        let types: Vec<Type> = self.key.iter().map(|i| self.columns[*i].1).collect();
        read_rows(pager, &types).await
    }
}

/// Every row a query pages through, its columns read as datums of `types`.
pub async fn read_rows(pager: scylla::client::pager::QueryPager, types: &[Type]) -> Result<Vec<Row>, ServiceError> {
    pager
        .rows_stream::<scylla::value::Row>()
        .map_err(ServiceError::cassandra)?
        .map_ok(|row| row.columns.into_iter().zip(types).map(|(value, ty)| from_cql(value, *ty)).collect::<Row>())
        .map_err(ServiceError::cassandra)
        .try_collect()
        .await
}

/// An existing table must have the view's columns and key, or it was made for another
/// definition of the view.
async fn check_columns(session: &Session, keyspace: &str, view: &View, columns: &[(String, Type)], key: &[&str]) -> Result<(), ServiceError> {
    let rows = session
        .query_unpaged("SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?", (keyspace, &view.name))
        .await
        .map_err(ServiceError::cassandra)?
        .into_rows_result()
        .map_err(ServiceError::cassandra)?;
    let mut existing: Vec<(String, String, bool)> = rows
        .rows::<(String, String, String)>()
        .map_err(ServiceError::cassandra)?
        .filter_map(Result::ok)
        .map(|(name, ty, kind)| (name, ty, kind == "partition_key"))
        .collect();
    existing.sort();
    let mut wanted: Vec<(String, String, bool)> = columns
        .iter()
        .map(|(name, ty)| (name.clone(), ty.cql_name().unwrap_or_default().to_string(), key.contains(&name.as_str())))
        .collect();
    wanted.sort();
    if existing != wanted {
        let show = |c: &[(String, String, bool)]| c.iter().map(|(n, t, k)| format!("{n} {t}{}", if *k { " key" } else { "" })).collect::<Vec<_>>().join(", ");
        return Err(ServiceError::Refused {
            service: "Cassandra",
            message: format!(
                "table {keyspace}.{name} exists with columns ({}), and view {name} now declares ({}): its contents are derived, so \
                 `DROP TABLE {keyspace}.{name}` and rtds recreates and refills it, or rename the view",
                show(&existing),
                show(&wanted),
                name = view.name
            ),
        });
    }
    Ok(())
}

/// A datum as a CQL value (`None` for NULL).
pub fn to_cql(datum: &Datum) -> Option<CqlValue> {
    Some(match datum {
        Datum::Null => return None,
        Datum::Bool(b) => CqlValue::Boolean(*b),
        Datum::Int(i) | Datum::Interval(i) => CqlValue::BigInt(*i),
        Datum::Float(f) => CqlValue::Double(f.get()),
        Datum::Text(s) => CqlValue::Text(s.to_string()),
        Datum::Timestamp(ms) => CqlValue::Timestamp(CqlTimestamp(*ms)),
        Datum::Uuid(u) => CqlValue::Uuid(*u),
    })
}

/// A CQL value read back as a datum of `ty`.
pub fn from_cql(value: Option<CqlValue>, ty: Type) -> Datum {
    match (value, ty) {
        (Some(CqlValue::Boolean(b)), Type::Bool) => Datum::Bool(b),
        (Some(CqlValue::BigInt(i)), Type::Int) => Datum::Int(i),
        (Some(CqlValue::Int(i)), Type::Int) => Datum::Int(i64::from(i)),
        (Some(CqlValue::Double(f)), Type::Float) => Datum::float(f),
        (Some(CqlValue::Text(s)) | Some(CqlValue::Ascii(s)), Type::Text) => Datum::text(&s),
        (Some(CqlValue::Timestamp(t)), Type::Timestamp) => Datum::Timestamp(t.0),
        (Some(CqlValue::Uuid(u)), Type::Uuid) => Datum::Uuid(u),
        _ => Datum::Null,
    }
}
