//! Word lists shared by all nationalities: usernames, passwords, time zones.

/// The first half of a username ("tiny" in "tinyfish925").
pub const ADJECTIVES: &[&str] = &[
    "angry", "beautiful", "big", "black", "blue", "brown", "crazy", "golden", "green", "happy", "heavy",
    "lazy", "orange", "organic", "purple", "red", "sad", "silver", "small", "ticklish", "tiny", "white",
    "yellow",
];

/// The second half of a username ("fish" in "tinyfish925").
pub const ANIMALS: &[&str] = &[
    "bear", "bird", "butterfly", "cat", "dog", "duck", "elephant", "fish", "frog", "goose", "gorilla",
    "koala", "ladybug", "leopard", "lion", "meercat", "mouse", "ostrich", "panda", "peacock", "rabbit",
    "snake", "swan", "tiger", "wolf", "zebra",
];

/// Passwords in the style of the API's (it draws from common-password lists).
pub const PASSWORDS: &[&str] = &[
    "babe", "pete", "44444", "ticklish", "never", "lekker", "lucas1", "hunter", "dragon", "shadow",
    "master", "monkey", "letmein", "football", "baseball", "sunshine", "princess", "qwerty", "trustno1",
    "batman", "superman", "iloveyou", "starwars", "welcome", "freedom", "whatever", "nicole", "jordan",
    "cheese", "summer", "winter", "tigger", "pepper", "ginger", "hammer", "silver", "cowboy", "merlin",
];

/// Characters of the 8-character password salt.
pub const SALT_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The API's time zones: offset and description.
pub const TIMEZONES: &[(&str, &str)] = &[
    ("-12:00", "Eniwetok, Kwajalein"),
    ("-11:00", "Midway Island, Samoa"),
    ("-10:00", "Hawaii"),
    ("-9:00", "Alaska"),
    ("-8:00", "Pacific Time (US & Canada)"),
    ("-7:00", "Mountain Time (US & Canada)"),
    ("-6:00", "Central Time (US & Canada), Mexico City"),
    ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-4:00", "Atlantic Time (Canada), Caracas, La Paz"),
    ("-3:30", "Newfoundland"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("-2:00", "Mid-Atlantic"),
    ("-1:00", "Azores, Cape Verde Islands"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    ("+2:00", "Kaliningrad, South Africa"),
    ("+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"),
    ("+3:30", "Tehran"),
    ("+4:00", "Abu Dhabi, Muscat, Baku, Tbilisi"),
    ("+4:30", "Kabul"),
    ("+5:00", "Ekaterinburg, Islamabad, Karachi, Tashkent"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"),
    ("+5:45", "Kathmandu"),
    ("+6:00", "Almaty, Dhaka, Colombo"),
    ("+7:00", "Bangkok, Hanoi, Jakarta"),
    ("+8:00", "Beijing, Perth, Singapore, Hong Kong"),
    ("+9:00", "Tokyo, Seoul, Osaka, Sapporo, Yakutsk"),
    ("+9:30", "Adelaide, Darwin"),
    ("+10:00", "Eastern Australia, Guam, Vladivostok"),
    ("+11:00", "Magadan, Solomon Islands, New Caledonia"),
    ("+12:00", "Auckland, Wellington, Fiji, Kamchatka"),
];
