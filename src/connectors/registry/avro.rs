//! `created_users` in Avro: the value schema derived from the table's columns (as the
//! replication stream's Relation messages, or a query's result, describe them), and rows
//! encoded in the Confluent wire format.
//!
//! Each PostgreSQL type maps to one Avro type (Debezium's mapping, with Avro's logical
//! types): `uuid` → string/uuid, `text`/`varchar`/`char`/`json`/`jsonb` → string,
//! `timestamptz` → long/timestamp-micros, `timestamp` → long/local-timestamp-micros, `date`
//! → int/date, `bool` → boolean, `int2`/`int4` → int, `int8` → long, `float4` → float,
//! `float8` → double. A column of another type is refused by name when the schema is derived.
//! `id` is required; every other column is a union with null, default null, so a column added
//! later is a BACKWARD-compatible change.
//!
//! The encoder is written here rather than taken from an Avro crate: the values arrive in
//! PostgreSQL's binary send format, and translating those bytes straight into Avro's (a
//! varint, a length and the same UTF-8, an offset added to a timestamp) skips the generic
//! value tree a crate would build per field. The workers read the result with
//! `serde_avro_fast` ([`super::decode`]), and the tests read it with Python's fastavro: two
//! independent readers check it.

use serde_json::{Value as Json, json};
use uuid::Uuid;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const POSTGRES_EPOCH_DAYS: i32 = 10_957;

/// The Confluent wire format's first byte.
pub const MAGIC: u8 = 0;

/// A column of the table: its name and PostgreSQL type oid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_oid: u32,
}

/// The Avro type of each supported PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uuid,
    Text,
    Jsonb,
    Timestamp { local: bool },
    Date,
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
}

impl Kind {
    fn of(type_oid: u32) -> Option<Kind> {
        Some(match type_oid {
            2950 => Kind::Uuid,
            25 | 1043 | 1042 | 19 | 114 => Kind::Text,
            3802 => Kind::Jsonb,
            1184 => Kind::Timestamp { local: false },
            1114 => Kind::Timestamp { local: true },
            1082 => Kind::Date,
            16 => Kind::Bool,
            21 => Kind::Int2,
            23 => Kind::Int4,
            20 => Kind::Int8,
            700 => Kind::Float4,
            701 => Kind::Float8,
            _ => return None,
        })
    }

    fn avro(self) -> Json {
        match self {
            Kind::Uuid => json!({"type": "string", "logicalType": "uuid"}),
            Kind::Text | Kind::Jsonb => json!("string"),
            Kind::Timestamp { local: false } => json!({"type": "long", "logicalType": "timestamp-micros"}),
            Kind::Timestamp { local: true } => json!({"type": "long", "logicalType": "local-timestamp-micros"}),
            Kind::Date => json!({"type": "int", "logicalType": "date"}),
            Kind::Bool => json!("boolean"),
            Kind::Int2 | Kind::Int4 => json!("int"),
            Kind::Int8 => json!("long"),
            Kind::Float4 => json!("float"),
            Kind::Float8 => json!("double"),
        }
    }
}

/// The table's columns with what the encoder needs of each, and the registered schema's id.
#[derive(Debug, Clone)]
pub struct Encoder {
    columns: Vec<Column>,
    kinds: Vec<Kind>,
    schema_id: u32,
}

/// The Avro value schema (JSON text) of a table with `columns`; refuses a column whose type
/// has no Avro form here, naming it.
///
/// ```
/// use rtds::connectors::registry::avro::{Column, value_schema};
/// let columns = [Column { name: "id".into(), type_oid: 2950 }, Column { name: "email".into(), type_oid: 25 }];
/// let schema: serde_json::Value = serde_json::from_str(&value_schema("created_users", &columns).unwrap()).unwrap();
/// assert_eq!(schema["fields"][1], serde_json::json!({"name": "email", "type": ["null", "string"], "default": null}));
/// let money = [Column { name: "balance".into(), type_oid: 790 }];
/// assert!(value_schema("created_users", &money).unwrap_err().contains("balance"));
/// ```
pub fn value_schema(table: &str, columns: &[Column]) -> Result<String, String> {
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let kind = kind_of(column)?;
        fields.push(if column.name == "id" {
            json!({"name": column.name, "type": kind.avro()})
        } else {
            json!({"name": column.name, "type": ["null", kind.avro()], "default": null})
        });
    }
    Ok(json!({"type": "record", "name": table, "namespace": "rtds", "fields": fields}).to_string())
}

fn kind_of(column: &Column) -> Result<Kind, String> {
    Kind::of(column.type_oid).ok_or_else(|| {
        format!(
            "column {} has a PostgreSQL type (oid {}) that rtds does not carry in Avro; supported: uuid, text, varchar, \
             char, json, jsonb, timestamptz, timestamp, date, bool, int2, int4, int8, float4, float8 \
             (cast it in a generated column, or stream JSON with --format json)",
            column.name, column.type_oid
        )
    })
}

/// What changed between the columns of two versions of the table, for an error message:
/// each column dropped, retyped or added, named.
pub fn column_changes(old: &[Column], new: &[Column]) -> Vec<String> {
    let mut changes = Vec::new();
    for column in old {
        match new.iter().find(|c| c.name == column.name) {
            None => changes.push(format!("column {} dropped", column.name)),
            Some(c) if c.type_oid != column.type_oid => {
                changes.push(format!("column {} retyped (oid {} to {})", column.name, column.type_oid, c.type_oid))
            }
            Some(_) => {}
        }
    }
    for column in new.iter().filter(|c| !old.iter().any(|o| o.name == c.name)) {
        changes.push(format!("column {} added", column.name));
    }
    changes
}

/// The columns a registered value schema describes (its fields, typed back to the oid each
/// Avro type comes from), for [`column_changes`] against a table that changed while the stage
/// was down.
pub fn schema_columns(schema: &str) -> Vec<Column> {
    let Ok(schema) = serde_json::from_str::<Json>(schema) else { return Vec::new() };
    let fields = schema["fields"].as_array().cloned().unwrap_or_default();
    fields
        .iter()
        .filter_map(|field| {
            let name = field["name"].as_str()?.to_string();
            let ty = match &field["type"] {
                Json::Array(branches) => branches.iter().find(|b| *b != "null").cloned().unwrap_or(Json::Null),
                other => other.clone(),
            };
            let type_oid = [2950u32, 25, 1184, 1114, 1082, 16, 23, 20, 700, 701]
                .into_iter()
                .find(|oid| Kind::of(*oid).is_some_and(|k| k.avro() == ty))
                .unwrap_or(0);
            Some(Column { name, type_oid })
        })
        .collect()
}

impl Encoder {
    /// The encoder of rows with `columns` under the registered schema `schema_id`.
    pub fn new(columns: Vec<Column>, schema_id: u32) -> Result<Encoder, String> {
        let kinds = columns.iter().map(kind_of).collect::<Result<_, _>>()?;
        Ok(Encoder { columns, kinds, schema_id })
    }

    /// The columns this encoder writes.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The registered schema's id.
    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }

    /// Appends a row (each column's value in PostgreSQL's binary format, `None` for NULL) in
    /// the Confluent wire format; refuses a value it cannot carry, naming its column.
    ///
    /// ```
    /// use rtds::connectors::registry::avro::{Column, Encoder};
    /// let columns = vec![Column { name: "id".into(), type_oid: 2950 }, Column { name: "n".into(), type_oid: 23 }];
    /// let encoder = Encoder::new(columns, 7).unwrap();
    /// let id = uuid::Uuid::from_u128(1);
    /// let mut out = Vec::new();
    /// encoder.encode(&[Some(id.as_bytes()), Some(&(-2i32).to_be_bytes())], &mut out).unwrap();
    /// // magic, id 7, the uuid as 36 characters (length 72 zigzagged), union branch 1, -2 zigzagged.
    /// assert_eq!(&out[..6], &[0, 0, 0, 0, 7, 72]);
    /// assert_eq!(&out[42..], &[2, 3]);
    /// ```
    pub fn encode(&self, values: &[Option<&[u8]>], out: &mut Vec<u8>) -> Result<(), String> {
        if values.len() != self.columns.len() {
            return Err(format!("a row of {} values for a table of {} columns", values.len(), self.columns.len()));
        }
        out.push(MAGIC);
        out.extend_from_slice(&self.schema_id.to_be_bytes());
        for ((column, kind), value) in self.columns.iter().zip(&self.kinds).zip(values) {
            let required = column.name == "id";
            match (value, required) {
                (None, true) => return Err(format!("{} is NULL", column.name)),
                (None, false) => {
                    long(out, 0);
                    continue;
                }
                (Some(_), false) => long(out, 1),
                (Some(_), true) => {}
            }
            let bytes = value.expect("NULL handled above");
            encode_value(*kind, bytes, out).map_err(|reason| format!("{}: {reason}", column.name))?;
        }
        Ok(())
    }
}

/// One non-null value, PostgreSQL binary to Avro binary.
fn encode_value(kind: Kind, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let fixed = |n: usize| exactly(bytes, n);
    match kind {
        Kind::Uuid => {
            let id = Uuid::from_slice(bytes).map_err(|e| e.to_string())?;
            let mut buffer = Uuid::encode_buffer();
            string(out, id.hyphenated().encode_lower(&mut buffer).as_bytes());
        }
        Kind::Text => string(out, utf8(bytes)?),
        // jsonb's send format: a version byte (1), then the JSON text.
        Kind::Jsonb => match bytes.split_first() {
            Some((1, text)) => string(out, utf8(text)?),
            _ => return Err("a jsonb value of an unknown version".into()),
        },
        Kind::Timestamp { .. } => {
            let micros = i64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes"));
            if micros == i64::MAX || micros == i64::MIN {
                return Err("infinity has no Avro timestamp".into());
            }
            long(out, micros.checked_add(POSTGRES_EPOCH_MICROS).ok_or("a timestamp out of range")?);
        }
        Kind::Date => {
            let days = i32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes"));
            if days == i32::MAX || days == i32::MIN {
                return Err("infinity has no Avro date".into());
            }
            long(out, i64::from(days) + i64::from(POSTGRES_EPOCH_DAYS));
        }
        Kind::Bool => out.push(u8::from(fixed(1)?[0] != 0)),
        Kind::Int2 => long(out, i64::from(i16::from_be_bytes(fixed(2)?.try_into().expect("2 bytes")))),
        Kind::Int4 => long(out, i64::from(i32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes")))),
        Kind::Int8 => long(out, i64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes"))),
        // Avro floats are little-endian, PostgreSQL's big-endian.
        Kind::Float4 => out.extend(f32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes")).to_le_bytes()),
        Kind::Float8 => out.extend(f64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes")).to_le_bytes()),
    }
    Ok(())
}

/// `bytes`, if they are `n` bytes long (a fixed-size binary value).
fn exactly(bytes: &[u8], n: usize) -> Result<&[u8], String> {
    (bytes.len() == n).then_some(bytes).ok_or_else(|| format!("{} bytes where {n} were expected", bytes.len()))
}

fn utf8(bytes: &[u8]) -> Result<&[u8], String> {
    std::str::from_utf8(bytes).map(str::as_bytes).map_err(|_| "not UTF-8".to_string())
}

/// An Avro `int`/`long`: zigzag, then a base-128 varint.
fn long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// An Avro `string`: its length, then its bytes.
fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        [("id", 2950), ("first_name", 25), ("dob", 1184), ("age", 23), ("score", 701), ("ok", 16), ("born", 1082)]
            .into_iter()
            .map(|(name, type_oid)| Column { name: name.into(), type_oid })
            .collect()
    }

    /// What the workers read back, through serde_avro_fast and the schema derived here.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Row {
        id: String,
        first_name: Option<String>,
        dob: Option<i64>,
        age: Option<i32>,
        score: Option<f64>,
        ok: Option<bool>,
        born: Option<i32>,
    }

    #[test]
    fn a_row_reads_back_through_its_schema() {
        let schema: serde_avro_fast::Schema = value_schema("created_users", &columns()).unwrap().parse().unwrap();
        let encoder = Encoder::new(columns(), 3).unwrap();
        let id = Uuid::from_u128(42);
        // 1990-01-01T00:00:00Z: 315,532,800 s before 2000-01-01; 2000-01-02 is day 1.
        let dob = (-315_532_800_000_000i64).to_be_bytes();
        let values: [Option<&[u8]>; 7] =
            [Some(id.as_bytes()), Some(b"Ana"), Some(&dob), None, Some(&2.5f64.to_be_bytes()), Some(&[1]), Some(&1i32.to_be_bytes())];
        let mut out = Vec::new();
        encoder.encode(&values, &mut out).unwrap();
        assert_eq!(out[..5], [MAGIC, 0, 0, 0, 3]);
        let row: Row = serde_avro_fast::from_datum_slice(&out[5..], &schema).unwrap();
        assert_eq!(
            row,
            Row {
                id: id.to_string(),
                first_name: Some("Ana".into()),
                dob: Some(631_152_000_000_000),
                age: None,
                score: Some(2.5),
                ok: Some(true),
                born: Some(10_958),
            }
        );
    }

    #[test]
    fn values_that_cannot_be_carried_are_refused_by_column() {
        let encoder = Encoder::new(columns(), 3).unwrap();
        let mut out = Vec::new();
        let no_id: [Option<&[u8]>; 7] = [None, None, None, None, None, None, None];
        assert_eq!(encoder.encode(&no_id, &mut out).unwrap_err(), "id is NULL");
        let id = Uuid::from_u128(1);
        let infinity = i64::MAX.to_be_bytes();
        let row: [Option<&[u8]>; 7] = [Some(id.as_bytes()), Some(&[0xff]), None, None, None, None, None];
        assert_eq!(encoder.encode(&row, &mut out).unwrap_err(), "first_name: not UTF-8");
        let row: [Option<&[u8]>; 7] = [Some(id.as_bytes()), None, Some(&infinity), None, None, None, None];
        assert!(encoder.encode(&row, &mut out).unwrap_err().starts_with("dob: infinity"));
    }

    #[test]
    fn changes_of_columns_are_named() {
        let old = columns();
        let mut new = old.clone();
        new.remove(1);
        new[1].type_oid = 25;
        new.push(Column { name: "nickname".into(), type_oid: 25 });
        assert_eq!(column_changes(&old, &new), ["column first_name dropped", "column dob retyped (oid 1184 to 25)", "column nickname added"]);
        let schema = value_schema("created_users", &old).unwrap();
        assert_eq!(schema_columns(&schema), old);
    }
}
