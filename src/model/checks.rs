//! The fixed checks `rtds ingest` applies to a formatted row before it stores it (a
//! dataflow's own rules are SQL expectations, see [`crate::sql`]), and the age bands the tests
//! compute from PostgreSQL.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use serde::Deserialize;

use crate::model::User;

/// Which checks a formatted row must pass; failures are rejected with the reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Row fields that must be present and non-empty.
    #[serde(default)]
    pub required: Vec<String>,
    /// The email must look like an address.
    #[serde(default)]
    pub email: bool,
    /// dob and registered_date must be plausible: between 1900 and the record's commit time.
    #[serde(default)]
    pub dates: bool,
}

/// The fields of a formatted row, the names `checks.required` accepts.
pub const ROW_FIELDS: [&str; 13] = [
    "id", "first_name", "last_name", "gender", "address", "post_code", "email", "username", "dob",
    "registered_date", "phone", "picture", "country",
];

/// Checks a row against a dataflow's checks; the error is the reason it is rejected. Dates
/// are judged against `now`, the time that travels with the record (its commit time), so a
/// record judged again after a crash gets the same answer. A reason names the field and the
/// rule, never the value: reasons reach dead-letter headers and the status page, the value
/// stays in the dead letter's payload.
///
/// ```
/// use rtds::model::Checks;
/// let checks = Checks { required: vec!["email".into()], email: true, dates: true };
/// let mut user = rtds::model::User::from_json(r#"{"email":"ana.lima@example.com","dob":{"date":"1990-01-02T03:04:05.000Z","age":35}}"#).unwrap();
/// assert!(rtds::model::checks::check(&user, &checks, chrono::Utc::now()).is_ok());
/// user.email = Some("not-an-address".into());
/// assert_eq!(rtds::model::checks::check(&user, &checks, chrono::Utc::now()).unwrap_err(), "email is not an address");
/// // Committed before the birth it records: judged against the commit time, not the clock.
/// let committed = chrono::DateTime::parse_from_rfc3339("1980-01-01T00:00:00Z").unwrap().to_utc();
/// user.email = Some("ana.lima@example.com".into());
/// assert_eq!(rtds::model::checks::check(&user, &checks, committed).unwrap_err(), "dob is not between 1900 and the record's commit time");
/// ```
pub fn check(user: &User, checks: &Checks, now: DateTime<Utc>) -> Result<(), String> {
    if user.id.is_nil() {
        return Err("id is the nil UUID".into());
    }
    for field in &checks.required {
        if field_value(user, field).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("required field {field} is missing"));
        }
    }
    if checks.email {
        if let Some(email) = &user.email {
            if !plausible_email(email) {
                return Err("email is not an address".into());
            }
        }
    }
    if checks.dates {
        for (name, value) in [("dob", &user.dob), ("registered_date", &user.registered_date)] {
            if let Some(date) = value {
                if date.year() < 1900 || *date > now {
                    return Err(format!("{name} is not between 1900 and the record's commit time"));
                }
            }
        }
    }
    Ok(())
}

/// A row field's text by name (`id` as its hyphenated UUID).
pub fn field_value<'a>(user: &'a User, field: &str) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow::{Borrowed, Owned};
    let text = |v: &'a Option<super::RowText>| v.as_deref().map(Borrowed);
    match field {
        "id" => Some(Owned(user.id.to_string())),
        "first_name" => text(&user.first_name),
        "last_name" => text(&user.last_name),
        "gender" => text(&user.gender),
        "address" => text(&user.address),
        "post_code" => text(&user.post_code),
        "email" => text(&user.email),
        "username" => text(&user.username),
        "dob" => user.dob.as_ref().map(|d| Owned(super::date::format(d))),
        "registered_date" => user.registered_date.as_ref().map(|d| Owned(super::date::format(d))),
        "phone" => text(&user.phone),
        "picture" => text(&user.picture),
        "country" => text(&user.country),
        _ => None,
    }
}

fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.contains('@') && domain.split('.').count() >= 2 && domain.split('.').all(|p| !p.is_empty())
        }
        None => false,
    }
}

/// "<20", "20-29", …, "60-69", "70+": whole years of age on `today`.
///
/// ```
/// use chrono::NaiveDate;
/// let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
/// assert_eq!(rtds::model::checks::age_band(NaiveDate::from_ymd_opt(1996, 6, 2).unwrap(), today), "20-29");
/// assert_eq!(rtds::model::checks::age_band(NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(), today), "70+");
/// ```
pub fn age_band(dob: NaiveDate, today: NaiveDate) -> String {
    let age = today.years_since(dob).unwrap_or(0);
    match age {
        0..20 => "<20".to_string(),
        70.. => "70+".to_string(),
        _ => format!("{}-{}", age / 10 * 10, age / 10 * 10 + 9),
    }
}
