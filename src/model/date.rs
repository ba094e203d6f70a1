//! A row's dates (`dob`, `registered_date`): parsed once, where a row is made or read, into
//! UTC instants; written as RFC 3339 text in UTC with as many fractional digits as they need
//! (`1992-03-18T17:36:00.197Z`, `2015-05-01T16:44:08Z`), the form randomuser.me sends.
//!
//! ```
//! use rtds::model::date;
//! let dob = date::parse("1992-03-18T19:36:00.197+02:00").unwrap();
//! assert_eq!(date::format(&dob), "1992-03-18T17:36:00.197Z");
//! assert!(date::parse("18/03/1992").is_none());
//! ```

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant of a row, in UTC.
pub type Date = DateTime<Utc>;

/// Parses RFC 3339 text (any offset) into UTC.
pub fn parse(text: &str) -> Option<Date> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The date as the row's text: RFC 3339, UTC (`Z`), fractional seconds only where present.
pub fn format(date: &Date) -> String {
    date.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Serde for an optional row date: text as [`format`] writes it, `null` when absent; text
/// that is not RFC 3339 is an error that quotes it.
///
/// ```
/// use rtds::model::User;
/// let id = "6f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f";
/// let user: User = serde_json::from_str(&format!(r#"{{"id":"{id}","dob":"1990-01-02T03:04:05Z"}}"#)).unwrap();
/// assert_eq!((user.dob.map(|d| d.timestamp()), user.registered_date), (Some(631_249_445), None));
/// let bad = serde_json::from_str::<User>(&format!(r#"{{"id":"{id}","dob":"02/01/1990"}}"#)).unwrap_err();
/// assert!(bad.to_string().contains(r#""02/01/1990" is not an ISO-8601 date"#), "{bad}");
/// ```
pub(crate) mod optional {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Date;

    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => serializer.serialize_str(&super::format(date)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|text| super::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an ISO-8601 date"))))
            .transpose()
    }
}
