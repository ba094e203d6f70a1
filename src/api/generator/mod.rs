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

mod json;
pub mod nationalities;
mod record;
mod words;

use chrono::{DateTime, Datelike, Timelike, Utc};
use md5::Md5;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub use json::write_json;
pub use nationalities::{NATIONALITIES, Nationality, Postcode};
pub use record::{Coordinates, GeneratedUser, Id, Location, Login, Moment, Name, Picture, PostcodeOut, StreetOut, Timezone};

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
        Generator { now: crate::clock::now() }
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
        let mut email = String::with_capacity(first_ascii.len() + last_ascii.len() + 13);
        for part in [first_ascii.as_str(), ".", last_ascii.as_str(), "@example.com"] {
            email.extend(part.chars().filter(|c| *c != ' '));
        }

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
                latitude: fixed_4(rng.random_range(-90.0..90.0f64)),
                longitude: fixed_4(rng.random_range(-180.0..180.0f64)),
            },
            timezone: {
                let (offset, description) = *words::TIMEZONES.choose(&mut rng).expect("timezones");
                Timezone { offset, description }
            },
        };

        let password = *words::PASSWORDS.choose(&mut rng).expect("passwords");
        let salt: String = (0..8).map(|_| *words::SALT_CHARS.choose(&mut rng).expect("chars") as char).collect();
        let login = Login {
            uuid: {
                let uuid = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                uuid.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned()
            },
            username: {
                let adjective = words::ADJECTIVES.choose(&mut rng).expect("adjectives");
                let animal = words::ANIMALS.choose(&mut rng).expect("animals");
                let mut username = String::with_capacity(adjective.len() + animal.len() + 3);
                username.push_str(adjective);
                username.push_str(animal);
                push_digits(&mut username, rng.random_range(100..1000), 3);
                username
            },
            password,
            // The hashes of password + salt, as the API gives them.
            md5: hex(&Md5::new().chain_update(password).chain_update(&salt).finalize()),
            sha1: hex(&Sha1::new().chain_update(password).chain_update(&salt).finalize()),
            sha256: hex(&Sha256::new().chain_update(password).chain_update(&salt).finalize()),
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
            name: has("name").then_some(Name { title, first: first_text, last: last_text }),
            location: has("location").then_some(location),
            email: has("email").then_some(email),
            login: has("login").then_some(login),
            dob: has("dob").then_some(dob),
            registered: has("registered").then_some(registered),
            phone: has("phone").then(|| fill(&mut rng, nat.phone)),
            cell: has("cell").then(|| fill(&mut rng, nat.cell)),
            id: has("id").then(|| Id { name: nat.id_name, value: nat.id_value.map(|p| fill(&mut rng, p)) }),
            picture: has("picture").then(|| {
                let url = |size: &str| {
                    let mut url = String::with_capacity(56);
                    url.push_str("https://randomuser.me/api/portraits/");
                    url.push_str(size);
                    url.push_str(folder);
                    url.push('/');
                    push_digits(&mut url, portrait, 1);
                    url.push_str(".jpg");
                    url
                };
                Picture { large: url(""), medium: url("med/"), thumbnail: url("thumb/") }
            }),
            nat: has("nat").then_some(nat.code),
        }
    }

    /// A date-time between two years, with milliseconds like 1.4, and its age in years.
    fn moment(&self, rng: &mut ChaCha8Rng, from_year: i32, to_year: i32) -> Moment {
        let millis = rng.random_range(year_start(from_year) * 1000..year_start(to_year) * 1000);
        let time = DateTime::from_timestamp_millis(millis).expect("in range");
        let mut age = self.now.year() - time.year();
        if (self.now.month(), self.now.day()) < (time.month(), time.day()) {
            age -= 1;
        }
        Moment { date: iso_millis(&time), age: age.max(0) as u32 }
    }
}

/// Unix seconds of `year`-01-01T00:00:00Z.
fn year_start(year: i32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year").and_time(chrono::NaiveTime::MIN).and_utc().timestamp()
}

/// `time` as "%Y-%m-%dT%H:%M:%S%.3fZ" (the API's 1.4 dates), without chrono's formatter.
fn iso_millis(time: &DateTime<Utc>) -> String {
    if !(0..=9999).contains(&time.year()) {
        return time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let mut out = String::with_capacity(24);
    let parts = [
        (time.year() as u32, 4, '-'),
        (time.month(), 2, '-'),
        (time.day(), 2, 'T'),
        (time.hour(), 2, ':'),
        (time.minute(), 2, ':'),
        (time.second(), 2, '.'),
        (time.timestamp_subsec_millis(), 3, 'Z'),
    ];
    for (value, width, after) in parts {
        push_digits(&mut out, value, width);
        out.push(after);
    }
    out
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut at = digits.len();
    let mut rest = value;
    while rest > 0 || digits.len() - at < width.max(1) {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

/// `format!("{:.4}", x)` for the coordinates, without the float formatter: the value times
/// 10⁴, rounded, is the answer unless it lies within a hair of a rounding tie, where the
/// formatter (which rounds the exact binary value) decides.
fn fixed_4(x: f64) -> String {
    let scaled = x.abs() * 1e4;
    if scaled.is_nan() || scaled >= 1e9 || (scaled.fract() - 0.5).abs() < 1e-6 {
        return format!("{x:.4}");
    }
    let units = scaled.round() as u32;
    let mut out = String::with_capacity(10);
    if x.is_sign_negative() {
        out.push('-');
    }
    push_digits(&mut out, units / 10_000, 1);
    out.push('.');
    push_digits(&mut out, units % 10_000, 4);
    out
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

