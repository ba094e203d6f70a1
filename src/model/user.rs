//! The formatted row: what ingest stores and streams and what the engine writes to Cassandra.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::date::{self, Date};
use super::error::RecordError;
use super::raw::{Moment, Postcode, RawLocation, RawUser, Street};

/// A text column of a row. Up to 24 bytes (names, gender, post code, phone, user name, country)
/// it is kept inline, not on the heap: a worker decodes every row from its message and frees it
/// on the Cassandra driver's thread, and those allocations were a tenth of a record's
/// instructions (BENCHMARKS.md, "Where a worker's instructions go").
pub type RowText = compact_str::CompactString;

/// One user, formatted the way the tutorial's Airflow DAG streamed it, with its bugs fixed:
/// the id is stable and `dob` is kept.
///
/// Fields the record did not carry (cut out by `inc`/`exc`, or absent from its API version)
/// are `None` and serialize as `null`; nothing is invented. `country` is rtds's addition
/// (the tutorial folded it into `address`) so aggregates need not parse addresses.
///
/// ```
/// let raw = r#"{"gender":"male","name":{"title":"Mr","first":"Leon","last":"Nichols"},
///   "location":{"street":{"number":1614,"name":"E Sandy Lake Rd"},"city":"Bendigo",
///   "state":"Victoria","country":"Australia","postcode":2722},
///   "login":{"uuid":"9a723211-0e87-41f1-b1e4-ed1a15226b80","username":"tinyfish925"}}"#;
/// let user = rtds::model::User::from_json(raw).unwrap();
/// assert_eq!(user.id.to_string(), "9a723211-0e87-41f1-b1e4-ed1a15226b80");
/// assert_eq!(user.address.as_deref(), Some("1614 E Sandy Lake Rd, Bendigo, Victoria, Australia"));
/// assert_eq!(user.post_code.as_deref(), Some("2722"));
/// assert_eq!(user.email, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub first_name: Option<RowText>,
    pub last_name: Option<RowText>,
    pub gender: Option<RowText>,
    pub address: Option<RowText>,
    pub post_code: Option<RowText>,
    pub email: Option<RowText>,
    pub username: Option<RowText>,
    /// Parsed once, where the row is made or read (see [`date`]).
    #[serde(default, with = "date::optional")]
    pub dob: Option<Date>,
    #[serde(default, with = "date::optional")]
    pub registered_date: Option<Date>,
    pub phone: Option<RowText>,
    pub picture: Option<RowText>,
    pub country: Option<RowText>,
}

/// Namespace of the UUIDv5 ids given to records without `login.uuid` (API 1.0 and 1.1).
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_5e0c_2b7d_4c35_9e61_0d2f_7a4b_c8e3);

impl User {
    /// A row with only its id: the key of a change whose value is carried already encoded
    /// (the CDC stage's Avro mode).
    pub fn blank(id: Uuid) -> User {
        User {
            id,
            first_name: None,
            last_name: None,
            gender: None,
            address: None,
            post_code: None,
            email: None,
            username: None,
            dob: None,
            registered_date: None,
            phone: None,
            picture: None,
            country: None,
        }
    }

    /// The row's text columns with their names (everything but the id and the two dates).
    pub fn text_fields(&self) -> [(&'static str, &Option<RowText>); 10] {
        [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("gender", &self.gender),
            ("address", &self.address),
            ("post_code", &self.post_code),
            ("email", &self.email),
            ("username", &self.username),
            ("phone", &self.phone),
            ("picture", &self.picture),
            ("country", &self.country),
        ]
    }

    /// Parses one record's JSON text and formats it.
    pub fn from_json(record: &str) -> Result<User, RecordError> {
        User::from_raw(&super::parse_record(record)?)
    }

    /// Formats a parsed record.
    pub fn from_raw(raw: &RawUser<'_>) -> Result<User, RecordError> {
        let name = raw.name.as_ref();
        let login = raw.login.as_ref();
        let location = raw.location.as_ref();
        let dob = raw.dob.as_ref().map(to_date).transpose().map_err(|r| invalid("dob", r))?;
        let registered_date =
            raw.registered.as_ref().map(to_date).transpose().map_err(|r| invalid("registered", r))?;
        let mut user = User {
            id: Uuid::nil(),
            first_name: text(name.and_then(|n| n.first.as_deref())),
            last_name: text(name.and_then(|n| n.last.as_deref())),
            gender: text(raw.gender.as_deref()),
            address: location.and_then(address),
            post_code: location.and_then(|l| l.postcode.as_ref()).map(|p| match p {
                Postcode::Number(n) => RowText::from(itoa::Buffer::new().format(*n)),
                Postcode::Text(t) => RowText::from(&**t),
            }),
            email: text(raw.email.as_deref()),
            username: text(login.and_then(|l| l.username.as_deref())),
            dob,
            registered_date,
            phone: text(raw.phone.as_deref()),
            picture: text(raw.picture.as_ref().and_then(|p| p.medium.as_deref())),
            country: text(location.and_then(|l| l.country.as_deref())),
        };
        user.id = match login.and_then(|l| l.uuid.as_deref()) {
            Some(uuid) => Uuid::parse_str(uuid).map_err(|e| invalid("login.uuid", e.to_string()))?,
            None => user.derived_id(raw.cell.as_deref())?,
        };
        Ok(user)
    }

    /// Appends the row as JSON: byte for byte what `serde_json::to_writer(out, self)` writes,
    /// without serde's per-byte escaping loop (ingest writes one per Kafka message).
    ///
    /// ```
    /// let user = rtds::model::User::from_json(r#"{"email":"a\"b@example.com","login":{"username":"x\u0001"}}"#).unwrap();
    /// let mut out = Vec::new();
    /// user.write_json(&mut out);
    /// assert_eq!(out, serde_json::to_vec(&user).unwrap());
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":\"");
        out.extend_from_slice(self.id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
        out.push(b'"');
        let text_field = |out: &mut Vec<u8>, key: &[u8], value: &Option<RowText>| {
            out.extend_from_slice(key);
            match value {
                Some(text) => json_string(out, text),
                None => out.extend_from_slice(b"null"),
            }
        };
        let date_field = |out: &mut Vec<u8>, key: &[u8], value: &Option<Date>| {
            out.extend_from_slice(key);
            match value {
                Some(value) => {
                    out.push(b'"');
                    out.extend_from_slice(date::format(value).as_bytes());
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            }
        };
        text_field(out, b",\"first_name\":", &self.first_name);
        text_field(out, b",\"last_name\":", &self.last_name);
        text_field(out, b",\"gender\":", &self.gender);
        text_field(out, b",\"address\":", &self.address);
        text_field(out, b",\"post_code\":", &self.post_code);
        text_field(out, b",\"email\":", &self.email);
        text_field(out, b",\"username\":", &self.username);
        date_field(out, b",\"dob\":", &self.dob);
        date_field(out, b",\"registered_date\":", &self.registered_date);
        text_field(out, b",\"phone\":", &self.phone);
        text_field(out, b",\"picture\":", &self.picture);
        text_field(out, b",\"country\":", &self.country);
        out.push(b'}');
    }

    /// A UUIDv5 of the fields that identify a person, for records without `login.uuid`:
    /// the same record always gets the same id.
    fn derived_id(&self, cell: Option<&str>) -> Result<Uuid, RecordError> {
        let (dob, registered) = (self.dob.as_ref().map(date::format), self.registered_date.as_ref().map(date::format));
        let identity = [
            self.username.as_deref(),
            self.email.as_deref(),
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            dob.as_deref(),
            registered.as_deref(),
            self.phone.as_deref(),
            cell,
        ];
        if identity.iter().all(Option::is_none) {
            return Err(RecordError::NoIdentity);
        }
        let mut name = Vec::with_capacity(160);
        for part in identity {
            name.extend_from_slice(part.unwrap_or("").as_bytes());
            name.push(0x1f); // unit separator: cannot occur in the API's text
        }
        Ok(Uuid::new_v5(&ID_NAMESPACE, &name))
    }
}

/// A JSON string as serde_json writes it: text that needs no escaping is copied as it is,
/// the rest is escaped by serde_json itself.
fn json_string(out: &mut Vec<u8>, text: &str) {
    // A fold rather than `any`: no early exit, so the check vectorizes.
    let needs_escape = text.bytes().fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escape {
        serde_json::to_writer(&mut *out, text).expect("a string serializes");
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

fn text(value: Option<&str>) -> Option<RowText> {
    value.map(RowText::from)
}

fn invalid(field: &'static str, reason: String) -> RecordError {
    RecordError::InvalidField { field, reason }
}

/// "number name, city, state, country" with the parts the record has, built in one string:
/// the street is "1614 E Sandy Lake Rd" from `{number, name}` (1.3+), or the pre-1.3 street
/// string as it is.
fn address(location: &RawLocation<'_>) -> Option<RowText> {
    let (number, street_name) = match &location.street {
        Some(Street::Text(t)) => (None, Some(&**t)),
        Some(Street::Parts { number, name }) => (*number, name.as_deref()),
        None => (None, None),
    };
    let rest = [location.city.as_deref(), location.state.as_deref(), location.country.as_deref()];
    let capacity = 24 + street_name.map_or(0, str::len) + rest.iter().flatten().map(|p| p.len() + 2).sum::<usize>();
    let mut out = String::with_capacity(capacity);
    // Each present part goes in after a separator, unless nothing came before it.
    if let Some(number) = number {
        push_int(&mut out, number);
    }
    if let Some(name) = street_name {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(name);
    }
    for part in rest.into_iter().flatten() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(part);
    }
    (!out.is_empty()).then(|| RowText::from(out))
}

/// Appends an integer's decimal digits, without the formatting machinery.
fn push_int(out: &mut String, n: i64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// The API's date as an instant: 1.2+ sends RFC 3339 text, 1.1 "YYYY-MM-DD HH:MM:SS" (the
/// API meant UTC), 1.0 unix seconds.
fn to_date(moment: &Moment<'_>) -> Result<Date, String> {
    match moment {
        Moment::UnixSeconds(seconds) => chrono::DateTime::from_timestamp(*seconds, 0).ok_or_else(|| format!("{seconds} is not a valid unix time")),
        Moment::Text(t) => {
            let b = t.as_bytes();
            let is_v1_1 = b.len() == 19 && b[10] == b' ' && b[4] == b'-' && b[13] == b':';
            let parsed = if is_v1_1 { date::parse(&format!("{}T{}Z", &t[..10], &t[11..])) } else { date::parse(t) };
            parsed.ok_or_else(|| format!("{t:?} is not an ISO-8601 date"))
        }
    }
}
