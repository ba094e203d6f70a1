//! One API answer turned into a batch: good rows with their raw text, rejected records
//! with their reason.

use crate::api::{FetchError, PageRequest};
use crate::connectors::postgres::Batch;
use crate::model::Checks;
use crate::model::checks::check;
use crate::model::{Rejected, User, format_response};

/// Records longer than this are rejected unread: no real user is near it.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What ingest insists on before storing a row: dates PostgreSQL can hold.
fn ingest_checks() -> Checks {
    Checks { required: Vec::new(), email: false, dates: true }
}

/// Splits an API answer into rows and rejections. An answer that is not a response at all
/// (the API's `{"error": …}`, HTML, truncated JSON) becomes one rejection holding the body.
///
/// ```
/// let batch = rtds::ingest::split_response(r#"{"results":[{"email":"a@b.co"},{"name":7}],"info":{"version":"1.4"}}"#);
/// assert_eq!(batch.users.len(), 1);
/// assert_eq!(batch.rejected.len(), 1);
/// assert!(batch.rejected[0].reason.contains("name: invalid type"));
/// assert_eq!(batch.api_version.as_deref(), Some("1.4"));
/// ```
pub fn split_response(body: &str) -> Batch {
    let response = match format_response(body) {
        Ok(response) => response,
        Err(e) => return Batch { rejected: vec![Rejected { raw: storable_text(body), reason: e.to_string() }], ..Batch::default() },
    };
    let now = crate::clock::now();
    let checks = ingest_checks();
    let mut batch = Batch { api_version: response.info.and_then(|i| i.version), ..Batch::default() };
    batch.users.reserve(response.records.len());
    for (raw, formatted) in response.records {
        let formatted = if raw.len() > MAX_RECORD_BYTES {
            Err(format!("record of {} bytes is over the {MAX_RECORD_BYTES}-byte limit", raw.len()))
        } else {
            formatted
                .map_err(|e| e.to_string())
                .and_then(|user| check(&user, &checks, now).map(|_| user))
                .and_then(|user| match postgres_refuses(raw, &user) {
                    Some(reason) => Err(reason),
                    None => Ok(user),
                })
        };
        match formatted {
            Ok(user) => batch.users.push((user, raw.to_string())),
            Err(reason) => batch.rejected.push(Rejected { raw: storable_text(raw), reason }),
        }
    }
    batch
}

/// Why PostgreSQL would refuse this record, if it would: text takes no NUL character, and
/// jsonb neither `\u0000` nor a lone UTF-16 surrogate escape. Such a record is rejected on
/// its own, before the load, so it cannot fail its whole page. `raw_users.raw` is `json` now,
/// which would store those escapes, but tables made before are `jsonb`, and `->>` and
/// `::jsonb` fail on them in any table: the rule keeps every stored record readable.
///
/// ```
/// # use rtds::ingest::postgres_refuses;
/// let user: rtds::model::User = serde_json::from_str(r#"{"id":"6f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f","first_name":"A\u0000"}"#).unwrap();
/// assert!(postgres_refuses("{}", &user).unwrap().contains("first_name"));
/// let fine: rtds::model::User = serde_json::from_str(r#"{"id":"6f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f"}"#).unwrap();
/// assert!(postgres_refuses(r#"{"note":"\ud83d\ude00 and \\u0000 is text"}"#, &fine).is_none());
/// assert!(postgres_refuses(r#"{"note":"\ud83d alone"}"#, &fine).unwrap().contains("surrogate"));
/// assert!(postgres_refuses(r#"{"note":"\u0000"}"#, &fine).unwrap().contains("\\u0000"));
/// ```
pub fn postgres_refuses(raw: &str, user: &User) -> Option<String> {
    let fields = user.text_fields();
    if let Some((name, _)) = fields.iter().find(|(_, value)| value.as_deref().is_some_and(|v| v.contains('\0'))) {
        return Some(format!("{name} holds a NUL character, which PostgreSQL text cannot store"));
    }
    json_escape_problem(raw).map(|problem| format!("the record holds {problem}, which PostgreSQL's jsonb and ->> refuse"))
}

/// The first `\u` escape of JSON text that jsonb refuses: `\u0000`, or a surrogate half
/// without its other half.
fn json_escape_problem(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let hex = |at: usize| json.get(at..at + 4).and_then(|h| u16::from_str_radix(h, 16).ok());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2; // an escaped character, perhaps a backslash: not the start of an escape
            continue;
        }
        let Some(unit) = hex(i + 2) else { return Some("a malformed \\u escape".into()) };
        match unit {
            0 => return Some("\\u0000".into()),
            0xD800..=0xDBFF => {
                let low = (bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u')).then(|| hex(i + 8)).flatten();
                if !low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                    return Some(format!("a lone surrogate escape \\u{unit:04x}"));
                }
                i += 12;
            }
            0xDC00..=0xDFFF => return Some(format!("a lone surrogate escape \\u{unit:04x}")),
            _ => i += 6,
        }
    }
    None
}

/// A rejected record's text as PostgreSQL text can hold it: NUL characters replaced by U+FFFD.
fn storable_text(raw: &str) -> String {
    if raw.contains('\0') { raw.replace('\0', "\u{FFFD}") } else { raw.to_string() }
}

/// A page the API would not give: recorded with the request and the error, so the gap is
/// visible in the rejected table and the dead-letter topic.
pub fn failed_page(request: &PageRequest, error: &FetchError) -> Rejected {
    let raw = serde_json::json!({
        "results": request.results, "page": request.page, "seed": request.seed, "nat": request.nat,
    });
    Rejected { raw: raw.to_string(), reason: format!("API request failed: {error}") }
}
