//! One API answer turned into a batch: good rows with their raw text, rejected records
//! with their reason.

use crate::api::{FetchError, PageRequest};
use crate::connectors::postgres::Batch;
use crate::dataflow::Checks;
use crate::engine::checks::check;
use crate::model::{Rejected, format_response};

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
        Err(e) => return Batch { rejected: vec![Rejected { raw: body.to_string(), reason: e.to_string() }], ..Batch::default() },
    };
    let now = chrono::Utc::now();
    let checks = ingest_checks();
    let mut batch = Batch { api_version: response.info.and_then(|i| i.version), ..Batch::default() };
    batch.users.reserve(response.records.len());
    for (raw, formatted) in response.records {
        let formatted = if raw.len() > MAX_RECORD_BYTES {
            Err(format!("record of {} bytes is over the {MAX_RECORD_BYTES}-byte limit", raw.len()))
        } else {
            formatted.map_err(|e| e.to_string()).and_then(|user| check(&user, &checks, now).map(|_| user))
        };
        match formatted {
            Ok(user) => batch.users.push((user, raw.to_string())),
            Err(reason) => batch.rejected.push(Rejected { raw: raw.to_string(), reason }),
        }
    }
    batch
}

/// A page the API would not give: recorded with the request and the error, so the gap is
/// visible in the rejected table and the dead-letter topic.
pub fn failed_page(request: &PageRequest, error: &FetchError) -> Rejected {
    let raw = serde_json::json!({
        "results": request.results, "page": request.page, "seed": request.seed, "nat": request.nat,
    });
    Rejected { raw: raw.to_string(), reason: format!("API request failed: {error}") }
}
