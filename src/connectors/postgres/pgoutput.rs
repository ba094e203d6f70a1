//! Decoding `pgoutput`, PostgreSQL's built-in logical decoding plugin, in its binary form
//! (protocol 1 with `binary 'true'`), into [`Change`]s of `created_users`.
//!
//! Written here rather than taken from a crate: the only parser on crates.io (`pgoutput`
//! 0.0.x) is young and unmaintained, and what rtds needs is small: relation messages (the
//! column layout, cached by relation id) and inserts, updates and deletes. Begin, commit and
//! logical messages are decoded by `pgwire-replication` itself.
//!
//! Binary values are PostgreSQL's send formats: `uuid` 16 bytes, `text` UTF-8, `timestamptz`
//! microseconds since 2000-01-01 UTC as a big-endian i64; so no date style or time zone of
//! the server can change what is read.
//!
//! Limits: a TOASTed value (over about 2 kB) that an update left unchanged is not in the
//! message; such an update cannot be encoded unless the table has `REPLICA IDENTITY FULL`
//! (then the old row supplies it), and is refused with that advice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Change, User};

use crate::connectors::registry::avro;

/// The table whose changes are decoded.
pub const TABLE: &str = "created_users";

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

const UUID_OID: u32 = 2950;
const TEXT_OID: u32 = 25;
const TIMESTAMPTZ_OID: u32 = 1184;

/// What one pgoutput message says.
// Nearly every message is a change: not boxed, see `Change`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A change of `created_users`, and with an Avro encoder set, its row encoded (an upsert's
    /// row then holds only its id).
    Change(Change, Option<Vec<u8>>),
    /// The columns of `created_users`, announced before its first change in a session and
    /// again after the table changed: the CDC stage registers their schema, then calls
    /// [`Decoder::set_avro`].
    Relation(Vec<avro::Column>),
    /// A change that cannot become a row: the id when known, and why.
    Refused { id: Option<Uuid>, reason: String },
    /// Nothing to stream (a relation or type message, another table, an origin).
    Nothing,
}

/// Why a message could not be read at all: the stream is not what rtds expects.
#[derive(Debug, thiserror::Error)]
#[error("pgoutput message {kind:?}: {reason}")]
pub struct DecodeError {
    kind: char,
    reason: String,
}

/// A column of a relation: its name and type.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    type_oid: u32,
}

/// The decoder: relation layouts as the stream announced them.
#[derive(Debug, Default)]
pub struct Decoder {
    relations: HashMap<u32, (String, Vec<Column>)>,
    /// Rows are encoded in Avro (the stage's `--format avro`); `Some(None)` until the first
    /// Relation message's schema is registered.
    avro: Option<Option<avro::Encoder>>,
}

/// One value of a tuple.
enum Value<'a> {
    Null,
    UnchangedToast,
    Bytes(&'a [u8]),
}

impl Decoder {
    /// A decoder that encodes each upserted row in Avro, by the encoder [`Decoder::set_avro`]
    /// gives it after each [`Decoded::Relation`].
    pub fn avro() -> Decoder {
        Decoder { avro: Some(None), ..Decoder::default() }
    }

    /// The encoder of the table's rows from now on (its columns' schema, registered).
    pub fn set_avro(&mut self, encoder: avro::Encoder) {
        self.avro = Some(Some(encoder));
    }

    /// Decodes one message (the XLogData payload, its type byte first).
    pub fn decode(&mut self, message: &[u8]) -> Result<Decoded, DecodeError> {
        let Some((&kind, body)) = message.split_first() else {
            return Err(DecodeError { kind: '?', reason: "empty message".into() });
        };
        let fail = |reason: String| DecodeError { kind: kind as char, reason };
        let mut reader = Reader(body);
        match kind {
            b'R' => {
                let relid = reader.u32().map_err(fail)?;
                let _namespace = reader.string().map_err(fail)?;
                let name = reader.string().map_err(fail)?;
                let _identity = reader.u8().map_err(fail)?;
                let count = reader.u16().map_err(fail)?;
                let mut columns = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let _flags = reader.u8().map_err(fail)?;
                    let name = reader.string().map_err(fail)?;
                    let type_oid = reader.u32().map_err(fail)?;
                    let _modifier = reader.u32().map_err(fail)?;
                    columns.push(Column { name, type_oid });
                }
                let ours = name == TABLE;
                let announced = columns.iter().map(|c| avro::Column { name: c.name.clone(), type_oid: c.type_oid }).collect();
                self.relations.insert(relid, (name, columns));
                Ok(if ours { Decoded::Relation(announced) } else { Decoded::Nothing })
            }
            b'I' | b'U' | b'D' => {
                let relid = reader.u32().map_err(fail)?;
                let (table, columns) = self.relations.get(&relid).ok_or_else(|| fail(format!("relation {relid} was never described")))?;
                if table != TABLE {
                    return Ok(Decoded::Nothing);
                }
                let mut old = None;
                let mut new = None;
                while let Some(part) = reader.optional_u8() {
                    let tuple = reader.tuple(columns.len()).map_err(fail)?;
                    match part {
                        b'K' | b'O' => old = Some(tuple),
                        b'N' => new = Some(tuple),
                        other => return Err(fail(format!("unexpected tuple kind {:?}", other as char))),
                    }
                }
                if kind == b'D' {
                    let old = old.ok_or_else(|| fail("a delete without the old key".into()))?;
                    return Ok(match row_id(columns, &old) {
                        Ok(id) => Decoded::Change(Change::Delete(id), None),
                        Err(reason) => Decoded::Refused { id: None, reason },
                    });
                }
                let new = new.ok_or_else(|| fail("no new row".into()))?;
                if let Some(encoder) = &self.avro {
                    let encoder = encoder.as_ref().ok_or_else(|| fail("a change before its relation's schema was registered".into()))?;
                    return Ok(match encoded(encoder, columns, &new, old.as_deref()) {
                        Ok((id, value)) => Decoded::Change(Change::Upsert(Box::new(User::blank(id))), Some(value)),
                        Err(reason) => Decoded::Refused { id: row_id(columns, &new).ok(), reason },
                    });
                }
                Ok(match user(columns, &new, old.as_deref()) {
                    Ok(user) => Decoded::Change(Change::Upsert(Box::new(user)), None),
                    Err(reason) => Decoded::Refused { id: row_id(columns, &new).ok(), reason },
                })
            }
            // Type, origin, truncate (not published) and anything newer: nothing to stream.
            _ => Ok(Decoded::Nothing),
        }
    }
}

/// The id column's value.
fn row_id(columns: &[Column], tuple: &[Value<'_>]) -> Result<Uuid, String> {
    let index = columns.iter().position(|c| c.name == "id").ok_or("the table has no id column")?;
    match &tuple[index] {
        Value::Bytes(bytes) if columns[index].type_oid == UUID_OID => {
            Uuid::from_slice(bytes).map_err(|e| format!("id: {e}"))
        }
        Value::Bytes(_) => Err(format!("id is of type {}, not uuid", columns[index].type_oid)),
        _ => Err("the row has no id".into()),
    }
}

/// A row of `created_users` in Avro, and its id; `old` fills values an update left out.
fn encoded(encoder: &avro::Encoder, columns: &[Column], new: &[Value<'_>], old: Option<&[Value<'_>]>) -> Result<(Uuid, Vec<u8>), String> {
    let id = row_id(columns, new)?;
    let mut values = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        values.push(match (&new[index], old.map(|o| &o[index])) {
            (Value::Bytes(bytes), _) | (Value::UnchangedToast, Some(Value::Bytes(bytes))) => Some(*bytes),
            (Value::UnchangedToast, _) => return Err(unchanged_toast(&column.name)),
            (Value::Null, _) => None,
        });
    }
    let mut out = Vec::with_capacity(512);
    encoder.encode(&values, &mut out)?;
    Ok((id, out))
}

/// Why an update whose large value pgoutput left out cannot be streamed.
fn unchanged_toast(column: &str) -> String {
    format!(
        "{column} is a large value the update left unchanged, which pgoutput does not send; \
         run `ALTER TABLE created_users REPLICA IDENTITY FULL` to stream such updates"
    )
}

/// A formatted user from a row of `created_users`; `old` fills values an update left out.
fn user(columns: &[Column], new: &[Value<'_>], old: Option<&[Value<'_>]>) -> Result<User, String> {
    let mut user = User::blank(row_id(columns, new)?);
    for (index, column) in columns.iter().enumerate() {
        let value = match (&new[index], old.map(|o| &o[index])) {
            (Value::UnchangedToast, Some(old @ Value::Bytes(_))) => old,
            (Value::UnchangedToast, _) => return Err(unchanged_toast(&column.name)),
            (value, _) => value,
        };
        let Value::Bytes(bytes) = value else { continue };
        let text_slot = match column.name.as_str() {
            "first_name" => &mut user.first_name,
            "last_name" => &mut user.last_name,
            "gender" => &mut user.gender,
            "address" => &mut user.address,
            "post_code" => &mut user.post_code,
            "email" => &mut user.email,
            "username" => &mut user.username,
            "phone" => &mut user.phone,
            "picture" => &mut user.picture,
            "country" => &mut user.country,
            "dob" | "registered_date" => {
                if column.type_oid != TIMESTAMPTZ_OID {
                    return Err(format!("{} has type oid {}, not timestamptz", column.name, column.type_oid));
                }
                let date = timestamp(bytes).ok_or_else(|| format!("{} is not a timestamp rtds can hold", column.name))?;
                *(if column.name == "dob" { &mut user.dob } else { &mut user.registered_date }) = Some(date);
                continue;
            }
            _ => continue,
        };
        if column.type_oid != TEXT_OID {
            return Err(format!("{} has type oid {}, not text", column.name, column.type_oid));
        }
        *text_slot = Some(std::str::from_utf8(bytes).map(crate::model::RowText::from).map_err(|_| format!("{} is not UTF-8", column.name))?);
    }
    Ok(user)
}

/// A binary `timestamptz`: microseconds since 2000-01-01 UTC.
fn timestamp(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let micros = i64::from_be_bytes(bytes.try_into().ok()?);
    DateTime::<Utc>::from_timestamp_micros(micros.checked_add(POSTGRES_EPOCH_MICROS)?)
}

/// A cursor over a message's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("truncated: {n} bytes wanted, {} left", self.0.len()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn optional_u8(&mut self) -> Option<u8> {
        self.u8().ok()
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("two bytes")))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }
    fn string(&mut self) -> Result<String, String> {
        let end = self.0.iter().position(|b| *b == 0).ok_or("a string without its terminator")?;
        let text = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = &self.0[end + 1..];
        Ok(text)
    }
    fn tuple(&mut self, columns: usize) -> Result<Vec<Value<'a>>, String> {
        let count = self.u16()? as usize;
        if count != columns {
            return Err(format!("a tuple of {count} columns for a relation of {columns}"));
        }
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(match self.u8()? {
                b'n' => Value::Null,
                b'u' => Value::UnchangedToast,
                b't' | b'b' => {
                    let len = self.u32()? as usize;
                    Value::Bytes(self.take(len)?)
                }
                other => return Err(format!("unexpected value kind {:?}", other as char)),
            });
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation() -> Vec<u8> {
        let mut m = vec![b'R'];
        m.extend(16384u32.to_be_bytes());
        m.extend(b"public\0created_users\0");
        m.push(b'd');
        let columns: [(&str, u32); 3] = [("id", UUID_OID), ("first_name", TEXT_OID), ("dob", TIMESTAMPTZ_OID)];
        m.extend((columns.len() as u16).to_be_bytes());
        for (name, oid) in columns {
            m.push(0);
            m.extend(name.as_bytes());
            m.push(0);
            m.extend(oid.to_be_bytes());
            m.extend((-1i32).to_be_bytes());
        }
        m
    }

    fn value(m: &mut Vec<u8>, bytes: &[u8]) {
        m.push(b'b');
        m.extend((bytes.len() as u32).to_be_bytes());
        m.extend(bytes);
    }

    #[test]
    fn inserts_updates_and_deletes_become_changes() {
        let mut decoder = Decoder::default();
        let Decoded::Relation(columns) = decoder.decode(&relation()).unwrap() else { panic!("the table's columns") };
        assert_eq!(columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "first_name", "dob"]);
        let id = Uuid::from_u128(42);
        let mut insert = vec![b'I'];
        insert.extend(16384u32.to_be_bytes());
        insert.push(b'N');
        insert.extend(3u16.to_be_bytes());
        value(&mut insert, id.as_bytes());
        value(&mut insert, b"Ada");
        // 1990-01-01T00:00:00Z is 315,532,800 s before 2000-01-01.
        value(&mut insert, &(-315_532_800_000_000i64).to_be_bytes());
        let Decoded::Change(Change::Upsert(user), None) = decoder.decode(&insert).unwrap() else { panic!("an upsert") };
        assert_eq!((user.id, user.first_name.as_deref(), user.dob.map(|d| crate::model::date::format(&d))), (id, Some("Ada"), Some("1990-01-01T00:00:00Z".to_string())));

        let mut update = insert.clone();
        update[0] = b'U';
        let position = update.len() - 8 - 4 - 1;
        update.truncate(position);
        update.push(b'u');
        let refused = decoder.decode(&update).unwrap();
        assert!(matches!(&refused, Decoded::Refused { id: Some(i), reason } if *i == id && reason.contains("REPLICA IDENTITY FULL")), "{refused:?}");

        let mut delete = vec![b'D'];
        delete.extend(16384u32.to_be_bytes());
        delete.push(b'K');
        delete.extend(3u16.to_be_bytes());
        value(&mut delete, id.as_bytes());
        delete.extend([b'n', b'n']);
        assert_eq!(decoder.decode(&delete).unwrap(), Decoded::Change(Change::Delete(id), None));

        // In Avro: the row encoded by the registered schema's encoder, a delete still a tombstone.
        let mut decoder = Decoder::avro();
        let Decoded::Relation(columns) = decoder.decode(&relation()).unwrap() else { panic!("the table's columns") };
        assert!(decoder.decode(&insert).unwrap_err().to_string().contains("before its relation's schema was registered"));
        decoder.set_avro(avro::Encoder::new(columns, 11).unwrap());
        let Decoded::Change(Change::Upsert(user), Some(value)) = decoder.decode(&insert).unwrap() else { panic!("an encoded upsert") };
        assert_eq!((user.id, user.first_name, &value[..5]), (id, None, &[0u8, 0, 0, 0, 11][..]));
        assert_eq!(decoder.decode(&delete).unwrap(), Decoded::Change(Change::Delete(id), None));
    }

    #[test]
    fn a_change_of_an_undescribed_relation_is_an_error() {
        let mut message = vec![b'I'];
        message.extend(7u32.to_be_bytes());
        assert!(Decoder::default().decode(&message).unwrap_err().to_string().contains("never described"));
    }
}
