//! What the aggregates group a user by: the dimensions of a dataflow's `[[aggregates]]`, and
//! their values for one user, computed once per user.

use chrono::{DateTime, NaiveDate, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::User;
use super::checks::age_band;

/// What an aggregate groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Country,
    Gender,
    AgeBand,
}

/// What the aggregates group a user by, computed once per user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dims {
    // Inline strings (up to 24 bytes without a heap allocation): dims are cloned and
    // compared a lot in the dedupe and count operators.
    pub country: Option<CompactString>,
    pub gender: Option<CompactString>,
    pub age_band: Option<CompactString>,
}

impl Dims {
    /// A formatted row's dimensions.
    pub fn of_user(user: &User, today: NaiveDate) -> Dims {
        Dims::of_fields(user.country.as_deref(), user.gender.as_deref(), user.dob, today)
    }

    /// The dimensions of a row's country, gender and date of birth (a stored row's, read back
    /// after a restart).
    pub fn of_fields(country: Option<&str>, gender: Option<&str>, dob: Option<DateTime<Utc>>, today: NaiveDate) -> Dims {
        Dims {
            country: country.map(CompactString::from),
            gender: gender.map(CompactString::from),
            age_band: dob.map(|d| age_band(d.date_naive(), today).into()),
        }
    }

    /// The value for one aggregate; absent values count under "unknown".
    pub fn value(&self, dimension: Dimension) -> CompactString {
        let value = match dimension {
            Dimension::Country => &self.country,
            Dimension::Gender => &self.gender,
            Dimension::AgeBand => &self.age_band,
        };
        value.clone().unwrap_or_else(|| CompactString::const_new("unknown"))
    }
}
