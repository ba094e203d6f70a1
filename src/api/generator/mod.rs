//! A deterministic generator of randomuser.me 1.4 records.
//!
//! User `i` of page `p` under seed `s` comes from its own ChaCha8 stream keyed by
//! `(s, p, i)`, so the same seed and page always give the same users, a longer page starts
//! with the users of a shorter one, and pages can be generated in parallel.
//!
//! ```
//! use rtds::api::generator::{Generator, Request};
//! let request = Request { seed: "abc".into(), page: 1, results: 3, ..Request::default() };
//! let a = Generator::new().page(&request);
//! let b = Generator::new().page(&request);
//! assert_eq!(a.len(), 3);
//! assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
//! ```

pub mod nationalities;
mod words;

use chrono::{DateTime, Datelike, Utc};
use md5::Md5;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub use nationalities::{NATIONALITIES, Nationality, Postcode};

/// The top-level fields of a record, the names `inc` and `exc` take.
pub const FIELDS: [&str; 12] =
    ["gender", "name", "location", "email", "login", "registered", "dob", "phone", "cell", "id", "picture", "nat"];

/// What to generate: one page of users.
#[derive(Debug, Clone)]
pub struct Request {
    pub seed: String,
    pub page: u32,
    pub results: u32,
    /// Nationalities to draw from; empty means all 21.
    pub nats: Vec<&'static Nationality>,
    /// `Some("male")` or `Some("female")` to fix the gender.
    pub gender: Option<&'static str>,
    /// Which of [`FIELDS`] to include, as a bit set (bit i = `FIELDS[i]`).
    pub fields: u16,
}

impl Default for Request {
    fn default() -> Self {
        Request { seed: String::new(), page: 1, results: 1, nats: Vec::new(), gender: None, fields: ALL_FIELDS }
    }
}

/// Every field bit set.
pub const ALL_FIELDS: u16 = (1 << FIELDS.len()) - 1;

/// Makes users. Holds the reference time used for ages.
#[derive(Debug, Clone)]
pub struct Generator {
    now: DateTime<Utc>,
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    /// A generator that computes ages as of now, like the real API.
    pub fn new() -> Self {
        Generator { now: Utc::now() }
    }

    /// One page of users.
    pub fn page(&self, request: &Request) -> Vec<GeneratedUser> {
        (0..request.results).map(|i| self.user(request, i)).collect()
    }

    /// User `index` of the request's page.
    pub fn user(&self, request: &Request, index: u32) -> GeneratedUser {
        let mut rng = ChaCha8Rng::from_seed(stream_key(&request.seed, request.page, index));
        let nats: &[&Nationality] = if request.nats.is_empty() { ALL.as_slice() } else { &request.nats };
        let nat = *nats.choose(&mut rng).expect("at least one nationality");
        let gender = request.gender.unwrap_or(if rng.random::<bool>() { "male" } else { "female" });
        let female = gender == "female";
        let first = pick(&mut rng, if female { nat.female_first } else { nat.male_first });
        let last = pick(&mut rng, nat.last);
        let title = pick(&mut rng, if female { nat.female_titles } else { nat.male_titles });
        let (first_text, first_ascii) = split_ascii(first);
        let (last_text, last_ascii) = split_ascii(last);
        let email = format!("{}.{}@example.com", first_ascii, last_ascii).replace(' ', "");

        let street_number = rng.random_range(1..=9999);
        let location = Location {
            street: StreetOut { number: street_number, name: pick(&mut rng, nat.streets) },
            city: pick(&mut rng, nat.cities),
            state: pick(&mut rng, nat.states),
            country: nat.country,
            postcode: match nat.postcode {
                Postcode::Int { min, max } => PostcodeOut::Number(rng.random_range(min..=max)),
                Postcode::Text(pattern) => PostcodeOut::Text(fill(&mut rng, pattern)),
            },
            coordinates: Coordinates {
                latitude: format!("{:.4}", rng.random_range(-90.0..90.0f64)),
                longitude: format!("{:.4}", rng.random_range(-180.0..180.0f64)),
            },
            timezone: {
                let (offset, description) = *words::TIMEZONES.choose(&mut rng).expect("timezones");
                Timezone { offset, description }
            },
        };

        let password = *words::PASSWORDS.choose(&mut rng).expect("passwords");
        let salt: String = (0..8).map(|_| *words::SALT_CHARS.choose(&mut rng).expect("chars") as char).collect();
        let salted = format!("{password}{salt}");
        let login = Login {
            uuid: uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string(),
            username: format!(
                "{}{}{}",
                words::ADJECTIVES.choose(&mut rng).expect("adjectives"),
                words::ANIMALS.choose(&mut rng).expect("animals"),
                rng.random_range(100..1000)
            ),
            password,
            md5: hex(&Md5::digest(&salted)),
            sha1: hex(&Sha1::digest(&salted)),
            sha256: hex(&Sha256::digest(&salted)),
            salt,
        };

        let dob = self.moment(&mut rng, 1945, 2006);
        let registered = self.moment(&mut rng, 2002, 2023);
        let portrait = rng.random_range(0..100);
        let folder = if female { "women" } else { "men" };
        let fields = request.fields;
        let has = |name: &str| fields & field_bit(name).unwrap_or(0) != 0;
        GeneratedUser {
            gender: has("gender").then_some(gender),
            name: has("name").then(|| Name { title, first: first_text, last: last_text }),
            location: has("location").then_some(location),
            email: has("email").then_some(email),
            login: has("login").then_some(login),
            dob: has("dob").then_some(dob),
            registered: has("registered").then_some(registered),
            phone: has("phone").then(|| fill(&mut rng, nat.phone)),
            cell: has("cell").then(|| fill(&mut rng, nat.cell)),
            id: has("id").then(|| Id { name: nat.id_name, value: nat.id_value.map(|p| fill(&mut rng, p)) }),
            picture: has("picture").then(|| Picture {
                large: format!("https://randomuser.me/api/portraits/{folder}/{portrait}.jpg"),
                medium: format!("https://randomuser.me/api/portraits/med/{folder}/{portrait}.jpg"),
                thumbnail: format!("https://randomuser.me/api/portraits/thumb/{folder}/{portrait}.jpg"),
            }),
            nat: has("nat").then_some(nat.code),
        }
    }

    /// A date-time between two years, with milliseconds like 1.4, and its age in years.
    fn moment(&self, rng: &mut ChaCha8Rng, from_year: i32, to_year: i32) -> Moment {
        let start = DateTime::parse_from_rfc3339(&format!("{from_year}-01-01T00:00:00Z")).expect("valid").timestamp();
        let end = DateTime::parse_from_rfc3339(&format!("{to_year}-01-01T00:00:00Z")).expect("valid").timestamp();
        let millis = rng.random_range(start * 1000..end * 1000);
        let time = DateTime::from_timestamp_millis(millis).expect("in range");
        let mut age = self.now.year() - time.year();
        if (self.now.month(), self.now.day()) < (time.month(), time.day()) {
            age -= 1;
        }
        Moment { date: time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), age: age.max(0) as u32 }
    }
}

static ALL: std::sync::LazyLock<Vec<&'static Nationality>> = std::sync::LazyLock::new(|| NATIONALITIES.iter().collect());

/// The bit of one of [`FIELDS`].
pub fn field_bit(name: &str) -> Option<u16> {
    FIELDS.iter().position(|f| *f == name).map(|i| 1 << i)
}

/// A random stream for decisions about a whole page (which records to replay or corrupt),
/// apart from the users' own streams so users stay the same whatever is decided.
pub fn page_rng(seed: &str, page: u32) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(stream_key(seed, page, u32::MAX))
}

/// A record's JSON with `name` replaced by a number: valid JSON, a wrong type, for fault
/// injection.
pub fn malformed_json(user: &GeneratedUser) -> String {
    let mut record = serde_json::to_value(user).expect("serializable");
    record["name"] = serde_json::json!(12345);
    record.to_string()
}

/// The 32-byte ChaCha key of user `index` on `page` under `seed` (FNV-1a, then splitmix64).
fn stream_key(seed: &str, page: u32, index: u32) -> [u8; 32] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut state = h ^ ((page as u64) << 32 | index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    key
}

fn pick(rng: &mut ChaCha8Rng, choices: &'static [&'static str]) -> &'static str {
    choices.choose(rng).copied().unwrap_or("")
}

/// Fills a pattern: `#` a digit, `A` an uppercase letter, `\\x` a literal x, anything else
/// as it is.
fn fill(rng: &mut ChaCha8Rng, pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => out.push(char::from(b'0' + rng.random_range(0..10u8))),
            'A' => out.push(char::from(b'A' + rng.random_range(0..26u8))),
            '\\' => out.extend(chars.next()),
            other => out.push(other),
        }
    }
    out
}

/// "یسنا|ysn" → ("یسنا", "ysn"); "Barış" → ("Barış", "baris").
fn split_ascii(name: &'static str) -> (&'static str, String) {
    match name.split_once('|') {
        Some((text, ascii)) => (text, ascii.to_lowercase()),
        None => (name, fold_ascii(name)),
    }
}

/// Lowercase ASCII form of a Latin name, as the API writes it into emails since 1.3.
pub fn fold_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' | '-' | '.' | '\'' => out.push(c),
            ' ' => {}
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ą' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ď' | 'đ' => out.push('d'),
            'é' | 'è' | 'ê' | 'ë' | 'ě' | 'ę' | 'ė' => out.push('e'),
            'ğ' => out.push('g'),
            'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ī' => out.push('i'),
            'ľ' | 'ł' => out.push('l'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ő' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ř' => out.push('r'),
            'ş' | 'š' | 'ś' | 'ș' => out.push('s'),
            'ß' => out.push_str("ss"),
            'ţ' | 'ț' | 'ť' => out.push('t'),
            'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ű' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ž' | 'ź' | 'ż' => out.push('z'),
            'þ' => out.push_str("th"),
            'ð' => out.push('d'),
            _ => {}
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

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
