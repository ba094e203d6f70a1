//! The randomuser.me record as the API sends it, for every version 1.0–1.4.
//!
//! Every field is optional because `inc`/`exc` can cut any key out of a record, and the
//! types that changed between versions (street, postcode, dob, registered) accept each
//! shape the API ever used. Strings borrow from the input when they hold no escapes, so
//! parsing a record allocates little.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// One user record exactly as the API sent it, borrowed from the response text.
///
/// ```
/// let user: rtds::model::RawUser = serde_json::from_str(r#"{"gender":"female","nat":"FR"}"#).unwrap();
/// assert_eq!(user.gender.as_deref(), Some("female"));
/// assert!(user.name.is_none());
/// ```
#[derive(Debug, Default, Deserialize)]
pub struct RawUser<'a> {
    #[serde(borrow)]
    pub gender: Option<Text<'a>>,
    #[serde(borrow)]
    pub name: Option<RawName<'a>>,
    #[serde(borrow)]
    pub location: Option<RawLocation<'a>>,
    #[serde(borrow)]
    pub email: Option<Text<'a>>,
    #[serde(borrow)]
    pub login: Option<RawLogin<'a>>,
    #[serde(borrow)]
    pub dob: Option<Moment<'a>>,
    #[serde(borrow)]
    pub registered: Option<Moment<'a>>,
    #[serde(borrow)]
    pub phone: Option<Text<'a>>,
    #[serde(borrow)]
    pub cell: Option<Text<'a>>,
    #[serde(borrow)]
    pub picture: Option<RawPicture<'a>>,
    #[serde(borrow)]
    pub nat: Option<Text<'a>>,
}

/// `name`: title, first and last name (any may be cut out).
#[derive(Debug, Default, Deserialize)]
pub struct RawName<'a> {
    #[serde(borrow)]
    pub title: Option<Text<'a>>,
    #[serde(borrow)]
    pub first: Option<Text<'a>>,
    #[serde(borrow)]
    pub last: Option<Text<'a>>,
}

/// `location`; `country` exists from 1.3 on, `street` became an object in 1.3.
#[derive(Debug, Default, Deserialize)]
pub struct RawLocation<'a> {
    #[serde(borrow)]
    pub street: Option<Street<'a>>,
    #[serde(borrow)]
    pub city: Option<Text<'a>>,
    #[serde(borrow)]
    pub state: Option<Text<'a>>,
    #[serde(borrow)]
    pub country: Option<Text<'a>>,
    #[serde(borrow)]
    pub postcode: Option<Postcode<'a>>,
}

/// `login`; `uuid` exists from 1.2 on.
#[derive(Debug, Default, Deserialize)]
pub struct RawLogin<'a> {
    #[serde(borrow)]
    pub uuid: Option<Text<'a>>,
    #[serde(borrow)]
    pub username: Option<Text<'a>>,
}

/// `picture`: the three portrait URLs.
#[derive(Debug, Default, Deserialize)]
pub struct RawPicture<'a> {
    #[serde(borrow)]
    pub large: Option<Text<'a>>,
    #[serde(borrow)]
    pub medium: Option<Text<'a>>,
    #[serde(borrow)]
    pub thumbnail: Option<Text<'a>>,
}

/// `location.street`: a plain string before 1.3, `{number, name}` from 1.3 on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Street<'a> {
    /// "4049 aleksanterinkatu" (1.0–1.2).
    Text(Cow<'a, str>),
    /// `{"number": 1614, "name": "E Sandy Lake Rd"}` (1.3+); either part may be missing.
    Parts { number: Option<i64>, name: Option<Text<'a>> },
}

/// `location.postcode`: an integer for most nationalities, a string for some (CA, GB, NL, NO…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postcode<'a> {
    Number(i64),
    Text(Cow<'a, str>),
}

/// `dob` / `registered`: unix seconds (1.0), a date-time string (1.1), or `{date, age}` (1.2+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moment<'a> {
    UnixSeconds(i64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Street<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StreetVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StreetVisitor<'a> {
            type Value = Street<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a street string or an object {number, name}")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Street::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Street::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let (mut number, mut name) = (None, None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match &*key {
                        "number" => number = map.next_value::<Option<Integer>>()?.map(|n| n.0),
                        "name" => name = map.next_value::<Option<Text<'a>>>()?,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Street::Parts { number, name })
            }
        }
        deserializer.deserialize_any(StreetVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Postcode<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PostcodeVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PostcodeVisitor<'a> {
            type Value = Postcode<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a postcode as an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Postcode::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v).map(Postcode::Number).map_err(|_| E::custom("postcode out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Postcode::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Postcode::Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_any(PostcodeVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Moment<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MomentVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MomentVisitor<'a> {
            type Value = Moment<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("unix seconds, a date-time string or an object {date, age}")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Moment::UnixSeconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v).map(Moment::UnixSeconds).map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Moment::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Moment::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut date = None;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if &*key == "date" {
                        date = Some(map.next_value::<Moment<'a>>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                date.ok_or_else(|| de::Error::missing_field("date"))
            }
        }
        deserializer.deserialize_any(MomentVisitor(std::marker::PhantomData))
    }
}

/// A JSON string that borrows from the input unless it holds escapes.
///
/// serde borrows a bare `Cow<str>` field only when it is not wrapped in `Option`; this
/// newtype borrows wherever it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// An integer that may also arrive as a string of digits (`"number": "12"`).
struct Integer(i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntegerVisitor;
        impl Visitor<'_> for IntegerVisitor {
            type Value = Integer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integer, E> {
                Ok(Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integer, E> {
                i64::try_from(v).map(Integer).map_err(|_| E::custom("integer out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Integer, E> {
                v.trim().parse().map(Integer).map_err(|_| E::custom(format!("expected an integer, found {v:?}")))
            }
        }
        deserializer.deserialize_any(IntegerVisitor)
    }
}
