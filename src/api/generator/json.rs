//! A generated record's JSON, written by hand for speed (the server writes thousands per
//! request), byte for byte what serde_json writes.

use super::{GeneratedUser, PostcodeOut};

/// Writes a record's JSON exactly as `serde_json::to_writer` writes it, field by field
/// without serde's machinery: the server writes 5000 of these per request. Strings that need
/// escaping (none of the generator's do) are escaped by serde_json itself.
///
/// ```
/// use rtds::api::generator::{Generator, Request, write_json};
/// let user = Generator::new().user(&Request { seed: "doc".into(), ..Request::default() }, 0);
/// let mut out = Vec::new();
/// write_json(&user, &mut out);
/// assert_eq!(out, serde_json::to_vec(&user).unwrap());
/// ```
pub fn write_json(user: &GeneratedUser, out: &mut Vec<u8>) {
    let mut w = JsonWriter { out, first: true };
    w.open();
    if let Some(gender) = user.gender {
        w.string("gender", gender);
    }
    if let Some(name) = &user.name {
        w.object("name");
        w.string("title", name.title);
        w.string("first", name.first);
        w.string("last", name.last);
        w.close();
    }
    if let Some(location) = &user.location {
        w.object("location");
        w.object("street");
        w.number("number", location.street.number);
        w.string("name", location.street.name);
        w.close();
        w.string("city", location.city);
        w.string("state", location.state);
        w.string("country", location.country);
        match &location.postcode {
            PostcodeOut::Number(n) => w.number("postcode", *n),
            PostcodeOut::Text(t) => w.string("postcode", t),
        }
        w.object("coordinates");
        w.string("latitude", &location.coordinates.latitude);
        w.string("longitude", &location.coordinates.longitude);
        w.close();
        w.object("timezone");
        w.string("offset", location.timezone.offset);
        w.string("description", location.timezone.description);
        w.close();
        w.close();
    }
    if let Some(email) = &user.email {
        w.string("email", email);
    }
    if let Some(login) = &user.login {
        w.object("login");
        w.string("uuid", &login.uuid);
        w.string("username", &login.username);
        w.string("password", login.password);
        w.string("salt", &login.salt);
        w.string("md5", &login.md5);
        w.string("sha1", &login.sha1);
        w.string("sha256", &login.sha256);
        w.close();
    }
    for (key, moment) in [("dob", &user.dob), ("registered", &user.registered)] {
        if let Some(moment) = moment {
            w.object(key);
            w.string("date", &moment.date);
            w.number("age", moment.age);
            w.close();
        }
    }
    if let Some(phone) = &user.phone {
        w.string("phone", phone);
    }
    if let Some(cell) = &user.cell {
        w.string("cell", cell);
    }
    if let Some(id) = &user.id {
        w.object("id");
        w.string("name", id.name);
        match &id.value {
            Some(value) => w.string("value", value),
            None => {
                w.key("value");
                w.out.extend_from_slice(b"null");
            }
        }
        w.close();
    }
    if let Some(picture) = &user.picture {
        w.object("picture");
        w.string("large", &picture.large);
        w.string("medium", &picture.medium);
        w.string("thumbnail", &picture.thumbnail);
        w.close();
    }
    if let Some(nat) = user.nat {
        w.string("nat", nat);
    }
    w.close();
}

/// Compact JSON output of nested objects, as serde_json's compact formatter writes it.
struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    /// No member written yet in the innermost open object.
    first: bool,
}

impl JsonWriter<'_> {
    fn open(&mut self) {
        self.out.push(b'{');
        self.first = true;
    }

    fn close(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.quoted(key);
        self.out.push(b':');
    }

    fn object(&mut self, key: &str) {
        self.key(key);
        self.open();
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        self.quoted(value);
    }

    fn number(&mut self, key: &str, value: u32) {
        self.key(key);
        self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn quoted(&mut self, text: &str) {
        // A fold rather than `any`: no early exit, so the check vectorizes.
        let needs_escape = text.bytes().fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
        if needs_escape {
            serde_json::to_writer(&mut *self.out, text).expect("a string serializes");
        } else {
            self.out.push(b'"');
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'"');
        }
    }
}

