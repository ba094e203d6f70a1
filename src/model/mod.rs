//! The record model: randomuser.me responses of every API version (1.0–1.4) and the
//! formatted [`User`] row that flows through the rest of rtds.
//!
//! ```
//! let text = std::fs::read_to_string("tests/data/v1_1.json").unwrap();
//! let response = rtds::model::parse_response(&text).unwrap();
//! for record in response.results {
//!     let user = rtds::model::User::from_json(record.get()).unwrap();
//!     assert!(rtds::model::date::format(&user.dob.unwrap()).ends_with('Z'));
//! }
//! ```

mod change;
pub mod checks;
pub mod date;
mod error;
mod raw;
mod response;
mod user;
mod version;

pub use change::Change;
pub use checks::Checks;
pub use error::{RecordError, ResponseError};
pub use raw::{Moment, Postcode, RawLocation, RawLogin, RawName, RawPicture, RawUser, Street, Text};
pub use response::{FormattedResponse, Info, Response, format_response, parse_response};
pub use user::{ID_NAMESPACE, RowText, User};
pub use version::Version;

/// Parses one record's JSON text. On failure the message names the field at fault.
pub fn parse_record(record: &str) -> Result<RawUser<'_>, RecordError> {
    serde_json::from_str(record).map_err(|_| {
        // Parse again, slowly, only to learn where it failed.
        let mut de = serde_json::Deserializer::from_str(record);
        match serde_path_to_error::deserialize::<_, RawUser>(&mut de) {
            Err(e) if e.path().to_string() != "." => RecordError::Malformed(format!("{}: {}", e.path(), e.inner())),
            Err(e) => RecordError::Malformed(e.inner().to_string()),
            Ok(_) => RecordError::Malformed("unreadable record".into()),
        }
    })
}

/// A record that could not become a row: its raw text and why. It goes to the rejected
/// table and the dead-letter topic, never nowhere.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    /// The record as received (or the API's answer, when a whole page failed).
    pub raw: String,
    /// What was wrong, naming the field where one is at fault.
    pub reason: String,
}
