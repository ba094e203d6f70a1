//! The source table's row from a message: the columns a dataflow declares, read from the
//! formatted row (`model::User`) each message of the topic carries, by name, and
//! `committed_at`, the record's commit time (its Kafka timestamp: for `rtds cdc`,
//! PostgreSQL's commit time), which the rows table keeps beside the row.

use std::borrow::Cow;

use super::expr::Columns;
use super::plan::Table;
use super::types::{Datum, Type};
use crate::model::User;

/// The fields a source table may declare, with their types: the formatted row's.
pub const FIELDS: [(&str, Type); 14] = [
    ("id", Type::Uuid),
    ("first_name", Type::Text),
    ("last_name", Type::Text),
    ("gender", Type::Text),
    ("address", Type::Text),
    ("post_code", Type::Text),
    ("email", Type::Text),
    ("username", Type::Text),
    ("dob", Type::Timestamp),
    ("registered_date", Type::Timestamp),
    ("phone", Type::Text),
    ("picture", Type::Text),
    ("country", Type::Text),
    ("committed_at", Type::Timestamp),
];

/// Reads a table's columns from formatted rows: each column's field, found once.
#[derive(Debug, Clone)]
pub struct Decoder {
    fields: Vec<usize>,
    /// The columns read before the dataflow: the expectations' and the state row's.
    needed: Vec<usize>,
}

impl Decoder {
    /// The decoder of `table`'s columns (declared from [`FIELDS`], as the front checked).
    pub fn new(table: &Table) -> Decoder {
        let fields = table.columns.iter().map(|c| FIELDS.iter().position(|(f, _)| *f == c.name).expect("the front checks every column is a field")).collect();
        let mut needed = table.state_columns.clone();
        for expectation in &table.expectations {
            expectation.expr.columns(&mut needed);
        }
        needed.sort_unstable();
        needed.dedup();
        Decoder { fields, needed }
    }

    /// The columns the expectations and the state row read, each decoded once, by column
    /// index (NULL for the others): expressions then borrow them instead of decoding a column
    /// again each time one reads it, and [`super::Table::take_state_row`] moves them out.
    pub fn decode(&self, user: &User, committed: Option<i64>) -> Vec<Datum> {
        let columns = self.row(user, committed);
        let mut row = vec![Datum::Null; self.fields.len()];
        for &index in &self.needed {
            row[index] = columns.column(index).into_owned();
        }
        row
    }

    /// A formatted row, committed at `committed` (UTC milliseconds), as the table's row.
    pub fn row<'a>(&'a self, user: &'a User, committed: Option<i64>) -> UserColumns<'a> {
        UserColumns { user, committed, fields: &self.fields }
    }
}

/// A formatted row seen as a table row.
pub struct UserColumns<'a> {
    user: &'a User,
    committed: Option<i64>,
    fields: &'a [usize],
}

impl Columns for UserColumns<'_> {
    fn column(&self, index: usize) -> Cow<'_, Datum> {
        match self.fields[index] {
            13 => Cow::Owned(self.committed.map_or(Datum::Null, Datum::Timestamp)),
            field_index => Cow::Owned(field(self.user, field_index)),
        }
    }
}

/// Field `index` of [`FIELDS`] of a formatted row.
fn field(user: &User, index: usize) -> Datum {
    // A row's text is the datum's own type: an inline one is copied, a long one cloned.
    let text = |value: &Option<crate::model::RowText>| value.clone().map_or(Datum::Null, Datum::Text);
    let time = |value: &Option<crate::model::date::Date>| value.as_ref().map_or(Datum::Null, Datum::timestamp);
    match index {
        0 => Datum::Uuid(user.id),
        1 => text(&user.first_name),
        2 => text(&user.last_name),
        3 => text(&user.gender),
        4 => text(&user.address),
        5 => text(&user.post_code),
        6 => text(&user.email),
        7 => text(&user.username),
        8 => time(&user.dob),
        9 => time(&user.registered_date),
        10 => text(&user.phone),
        11 => text(&user.picture),
        12 => text(&user.country),
        _ => unreachable!("FIELDS has 13 fields of the row, and committed_at"),
    }
}
