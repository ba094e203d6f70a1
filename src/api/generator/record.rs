//! A generated record: the API's 1.4 JSON shape, as serde types.

use serde::Serialize;

/// A generated record, serialized exactly like the API's 1.4 JSON; fields cut by
/// `inc`/`exc` are `None` and left out.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<Moment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<Moment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<Picture>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Name {
    pub title: &'static str,
    pub first: &'static str,
    pub last: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub street: StreetOut,
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub postcode: PostcodeOut,
    pub coordinates: Coordinates,
    pub timezone: Timezone,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreetOut {
    pub number: u32,
    pub name: &'static str,
}

/// A postcode as the nationality writes it: a JSON number or a JSON string.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PostcodeOut {
    Number(u32),
    Text(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Coordinates {
    pub latitude: String,
    pub longitude: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timezone {
    pub offset: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub uuid: String,
    pub username: String,
    pub password: &'static str,
    pub salt: String,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    pub date: String,
    pub age: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Id {
    pub name: &'static str,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Picture {
    pub large: String,
    pub medium: String,
    pub thumbnail: String,
}
