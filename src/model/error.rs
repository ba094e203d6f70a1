//! What can be wrong with a response or a record.

/// Why one record could not be formatted. The message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not JSON, or a field of the wrong type: `name.first: invalid type: integer `5`, expected a string`.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// A field that parsed but cannot be used, such as a `login.uuid` that is not a UUID.
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Nothing in the record tells who it is, so no stable id can be made.
    #[error("record has no identifying field (login.uuid, login.username, email, name, dob, phone)")]
    NoIdentity,
}

/// Why a whole API response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The API's own `{"error": "..."}` answer.
    #[error("the API answered with an error: {0}")]
    Api(String),
    /// Not JSON, or JSON of another shape.
    #[error("malformed response: {0}")]
    Malformed(String),
}
