//! The API's query parameters, read the way randomuser.me reads them: out-of-range or
//! unknown values are silently corrected, never refused.

use std::collections::HashMap;

use super::generator::{ALL_FIELDS, Request, field_bit, nationalities};

/// Most users one request may ask for.
pub const MAX_RESULTS: u32 = 5000;

/// A parsed request: what to generate and how to answer.
#[derive(Debug, Clone)]
pub struct ApiQuery {
    pub request: Request,
    /// `noinfo`: leave the `info` block out.
    pub noinfo: bool,
    /// `format=pretty`: indent the JSON.
    pub pretty: bool,
}

/// Why a query cannot be answered at all (everything else is corrected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("format {0:?} is not served by rtds api serve; use format=json")]
    UnsupportedFormat(String),
}

impl ApiQuery {
    /// Reads query parameters. A missing seed gets a fresh random one, as on randomuser.me.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let params: HashMap<String, String> =
    ///     [("results", "99999"), ("nat", "us,Gb,XX"), ("seed", "abc")].into_iter()
    ///     .map(|(k, v)| (k.to_string(), v.to_string())).collect();
    /// let query = rtds::api::ApiQuery::from_params(&params).unwrap();
    /// assert_eq!(query.request.results, 1); // out of range: one user, like the real API
    /// assert_eq!(query.request.nats.iter().map(|n| n.code).collect::<Vec<_>>(), ["US", "GB"]);
    /// ```
    pub fn from_params(params: &HashMap<String, String>) -> Result<ApiQuery, QueryError> {
        let get = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let pretty = match get("format").map(str::to_ascii_lowercase).as_deref() {
            None | Some("json") => false,
            Some("pretty" | "prettyjson") => true,
            Some(other) => return Err(QueryError::UnsupportedFormat(other.to_string())),
        };
        let results = get("results").and_then(|v| v.parse::<u32>().ok()).filter(|n| (1..=MAX_RESULTS).contains(n));
        let page = get("page").and_then(|v| v.parse::<u32>().ok()).filter(|p| *p >= 1);
        let nats = get("nat")
            .map(|list| list.split(',').filter_map(|code| nationalities::by_code(code.trim())).collect())
            .unwrap_or_default();
        let gender = match get("gender").map(str::to_ascii_lowercase).as_deref() {
            Some("male") => Some("male"),
            Some("female") => Some("female"),
            _ => None,
        };
        let field_set = |key: &str| get(key).map(|list| list.split(',').filter_map(|f| field_bit(f.trim())).fold(0, |a, b| a | b));
        let mut fields = field_set("inc").filter(|bits| *bits != 0).unwrap_or(ALL_FIELDS);
        fields &= !field_set("exc").unwrap_or(0);
        let seed = get("seed").map(str::to_owned).unwrap_or_else(random_seed);
        Ok(ApiQuery {
            request: Request { seed, page: page.unwrap_or(1), results: results.unwrap_or(1), nats, gender, fields },
            noinfo: params.contains_key("noinfo"),
            pretty,
        })
    }
}

/// A 16-hex-digit seed like the API's.
pub fn random_seed() -> String {
    format!("{:016x}", rand::random::<u64>())
}

