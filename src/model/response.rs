//! A whole API response: the `{results, info}` envelope, a bare array, or `{"error": …}`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{RecordError, ResponseError};
use super::raw::RawUser;
use super::user::User;

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

/// A response split into records, each with its row or why it has none.
#[derive(Debug)]
pub struct FormattedResponse<'a> {
    pub info: Option<Info>,
    /// Each record's JSON text as received, and [`User::from_json`] of it.
    pub records: Records<'a>,
}

/// Records as received, each with its row or why it has none.
pub type Records<'a> = Vec<(&'a str, Result<User, RecordError>)>;

/// [`parse_response`], then [`User::from_json`] of every record, in one pass over the text:
/// each record is parsed once, where it stands, instead of being scanned out as raw JSON
/// first and parsed again. The answer is exactly the two-step one; any response the single
/// pass is not sure about (the API's error, a malformed envelope, an escaped key) takes
/// the two steps.
///
/// ```
/// let response = rtds::model::format_response(r#"{"results":[{"email":"a@b.co"},{"name":7}],"info":{"version":"1.4"}}"#).unwrap();
/// assert_eq!(response.records.len(), 2);
/// assert_eq!(response.records[0].0, r#"{"email":"a@b.co"}"#);
/// assert_eq!(response.records[0].1.as_ref().unwrap().email.as_deref(), Some("a@b.co"));
/// assert!(response.records[1].1.is_err());
/// assert_eq!(response.info.unwrap().version.as_deref(), Some("1.4"));
/// ```
pub fn format_response(text: &str) -> Result<FormattedResponse<'_>, ResponseError> {
    if let Some(formatted) = one_pass(text) {
        return Ok(formatted);
    }
    let response = parse_response(text)?;
    let records = response.results.into_iter().map(|r| (r.get(), User::from_json(r.get()))).collect();
    Ok(FormattedResponse { info: response.info, records })
}

/// The single pass; `None` when the response is anything but a well-formed array of
/// records or `{results, info, …}` object.
fn one_pass(text: &str) -> Option<FormattedResponse<'_>> {
    let bytes = text.as_bytes();
    let mut at = skip_whitespace(bytes, 0);
    match bytes.get(at)? {
        b'[' => {
            let (records, end) = records(text, at)?;
            (skip_whitespace(bytes, end) == bytes.len()).then_some(FormattedResponse { info: None, records })
        }
        b'{' => {
            let (mut info, mut results) = (None, None);
            at = skip_whitespace(bytes, at + 1);
            loop {
                // A key without escapes or control characters, as serde_json would read it.
                if bytes.get(at) != Some(&b'"') {
                    return None;
                }
                let length = bytes[at + 1..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
                let key_end = at + 1 + length;
                if bytes[key_end] != b'"' {
                    return None;
                }
                let key = &text[at + 1..key_end];
                at = skip_whitespace(bytes, key_end + 1);
                if bytes.get(at) != Some(&b':') {
                    return None;
                }
                at = skip_whitespace(bytes, at + 1);
                match key {
                    "results" if results.is_none() && bytes.get(at) == Some(&b'[') => {
                        let (found, end) = records(text, at)?;
                        results = Some(found);
                        at = end;
                    }
                    "info" if info.is_none() => {
                        let (found, end) = value::<Option<Info>>(text, at)?;
                        info = Some(found);
                        at = end;
                    }
                    "results" | "info" | "error" => return None,
                    _ => at = value::<serde::de::IgnoredAny>(text, at)?.1,
                }
                at = skip_whitespace(bytes, at);
                match bytes.get(at)? {
                    b',' => at = skip_whitespace(bytes, at + 1),
                    b'}' => break,
                    _ => return None,
                }
            }
            if skip_whitespace(bytes, at + 1) != bytes.len() {
                return None;
            }
            Some(FormattedResponse { info: info.flatten(), records: results? })
        }
        _ => None,
    }
}

/// The records of the array opening at `at`, and the offset just past its `]`.
fn records(text: &str, at: usize) -> Option<(Records<'_>, usize)> {
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    let mut at = skip_whitespace(bytes, at + 1);
    if bytes.get(at) == Some(&b']') {
        return Some((records, at + 1));
    }
    loop {
        let (record, end, formatted) = match value::<RawUser>(text, at) {
            Some((raw, end)) => (&text[at..end], end, User::from_raw(&raw)),
            None => {
                // Not a record: JSON of another shape is rejected on its own (with the field at
                // fault named, as from_json names it); text that is not JSON spoils the response.
                let (raw, end) = value::<&RawValue>(text, at)?;
                (raw.get(), end, User::from_json(raw.get()))
            }
        };
        records.push((record, formatted));
        at = skip_whitespace(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_whitespace(bytes, at + 1),
            b']' => return Some((records, at + 1)),
            _ => return None,
        }
    }
}

/// Parses the one JSON value starting at `at`; returns it and the offset just past it.
fn value<'a, T: Deserialize<'a>>(text: &'a str, at: usize) -> Option<(T, usize)> {
    let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<T>();
    let parsed = stream.next()?.ok()?;
    Some((parsed, at + stream.byte_offset()))
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}
