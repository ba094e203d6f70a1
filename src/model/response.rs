//! A whole API response: the `{results, info}` envelope, a bare array, or `{"error": …}`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ResponseError;

/// A response split into its records, each left as raw JSON text so one bad record can be
/// rejected on its own while the others go on.
///
/// ```
/// let response = rtds::model::parse_response(r#"[{"gender":"male"}, {"gender":"female"}]"#).unwrap();
/// assert_eq!(response.results.len(), 2);
/// assert!(response.info.is_none());
///
/// let error = rtds::model::parse_response(r#"{"error":"Uh oh, something has gone wrong."}"#).unwrap_err();
/// assert_eq!(error.to_string(), "the API answered with an error: Uh oh, something has gone wrong.");
/// ```
#[derive(Debug)]
pub struct Response<'a> {
    pub info: Option<Info>,
    pub results: Vec<&'a RawValue>,
}

/// The `info` block: absent with `noinfo` and in bare-array captures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Info {
    pub seed: Option<String>,
    pub results: Option<u64>,
    pub page: Option<u64>,
    pub version: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    results: Option<Vec<&'a RawValue>>,
    info: Option<Info>,
    error: Option<serde_json::Value>,
}

/// Splits a response into records; the API's error object becomes [`ResponseError::Api`].
pub fn parse_response(text: &str) -> Result<Response<'_>, ResponseError> {
    let malformed = |e: serde_json::Error| ResponseError::Malformed(e.to_string());
    match text.trim_start().as_bytes().first() {
        Some(b'[') => Ok(Response { info: None, results: serde_json::from_str(text).map_err(malformed)? }),
        Some(b'{') => {
            let envelope: Envelope = serde_json::from_str(text).map_err(malformed)?;
            if let Some(error) = envelope.error {
                let message = match error {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                return Err(ResponseError::Api(message));
            }
            let results = envelope
                .results
                .ok_or_else(|| ResponseError::Malformed("no `results` array in the response object".into()))?;
            Ok(Response { info: envelope.info, results })
        }
        Some(_) => Err(ResponseError::Malformed(format!(
            "expected a JSON object or array, found {:?}",
            text.trim_start().chars().take(20).collect::<String>()
        ))),
        None => Err(ResponseError::Malformed("empty response".into())),
    }
}
