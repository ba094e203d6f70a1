//! Reading a whole PostgreSQL table as rows of a dataflow's source table (`rtds check`): each
//! declared column selected by name, streamed, never held whole.

use futures::{Stream, StreamExt, TryStreamExt};

use crate::connectors::ServiceError;
use crate::sql::{Datum, Row, Table, Type};

/// A table name we may splice into a query (names cannot be bound): `name` or `schema.name`,
/// letters, digits and `_`.
pub fn check_table_name(name: &str) -> Result<(), ServiceError> {
    let part = |p: &str| !p.is_empty() && p.len() <= 63 && p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.split('.').count() <= 2 && name.split('.').all(part) {
        Ok(())
    } else {
        Err(ServiceError::postgres(format!("table {name:?} is not a plain name (schema.table of letters, digits and _)")))
    }
}

/// The rows of `name`, as `table`'s rows: every declared column by its name (timestamps read
/// as milliseconds, UUIDs and text as text).
pub async fn read_table<'a>(client: &'a tokio_postgres::Client, name: &str, table: &Table) -> Result<impl Stream<Item = Result<Row, ServiceError>> + 'a, ServiceError> {
    check_table_name(name)?;
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.ty {
            Type::Timestamp => format!("(extract(epoch from \"{0}\") * 1000)::int8 as \"{0}\"", c.name),
            Type::Int => format!("\"{}\"::int8", c.name),
            Type::Float => format!("\"{}\"::float8", c.name),
            Type::Bool => format!("\"{}\"::bool", c.name),
            _ => format!("\"{}\"::text", c.name),
        })
        .collect();
    let query = format!("select {} from {name}", columns.join(", "));
    let statement = client.prepare(&query).await?;
    let types: Vec<Type> = table.columns.iter().map(|c| c.ty).collect();
    let rows = client.query_raw(&statement, std::iter::empty::<i32>()).await?;
    Ok(rows.map_err(ServiceError::from).map(move |row| {
        let row = row?;
        Ok(types
            .iter()
            .enumerate()
            .map(|(i, ty)| match ty {
                Type::Timestamp => row.get::<_, Option<i64>>(i).map_or(Datum::Null, Datum::Timestamp),
                Type::Int => row.get::<_, Option<i64>>(i).map_or(Datum::Null, Datum::Int),
                Type::Float => row.get::<_, Option<f64>>(i).map_or(Datum::Null, Datum::float),
                Type::Bool => row.get::<_, Option<bool>>(i).map_or(Datum::Null, Datum::Bool),
                Type::Uuid => row.get::<_, Option<String>>(i).and_then(|t| uuid::Uuid::parse_str(&t).ok()).map_or(Datum::Null, Datum::Uuid),
                _ => row.get::<_, Option<String>>(i).map_or(Datum::Null, |t| Datum::text(&t)),
            })
            .collect())
    }))
}
