//! How rtds reaches Kafka: the bootstrap servers and any librdkafka property (security,
//! timeouts, …), the same for every Kafka client of a process.
//!
//! Properties come from three places, later ones winning: a dataflow file's
//! `[source.kafka.properties]`, the repeatable command-line option `-X KEY=VALUE` (kcat's
//! spelling), and the environment: `RTDS_KAFKA_SASL_PASSWORD` sets `sasl.password` (the name
//! after `RTDS_KAFKA_`, lowercased, `_` read as `.`). Secrets ([`SECRET_KEYS`]) are refused
//! on the command line (it shows in `ps`) and in dataflow files (they get committed): they
//! come from the environment only, and no message or log line of rtds shows them.
//!
//! ```
//! use rtds::connectors::kafka::KafkaConfig;
//! let config = KafkaConfig::new("broker:9093")
//!     .with_option("security.protocol=SASL_SSL").unwrap()
//!     .with_environment([("RTDS_KAFKA_SASL_PASSWORD".to_string(), "s3cret".to_string())]);
//! assert_eq!(config.property("sasl.password"), Some("s3cret"));
//! assert!(!format!("{config:?}").contains("s3cret"));
//! let refused = KafkaConfig::new("broker:9093").with_option("sasl.password=s3cret").unwrap_err();
//! assert!(refused.contains("RTDS_KAFKA_SASL_PASSWORD"), "{refused}");
//! ```

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// How long a client may go without metadata before it starts again from
/// `bootstrap.servers`.
///
/// Why it matters: a KRaft broker that is starting up answers metadata requests with its
/// topics but no brokers (it lists only unfenced ones). librdkafka (2.10 and later) then
/// decommissions every broker it knew, the bootstrap ones included, and is left with nothing
/// to ask for metadata; partitions keep no leader and a consumer reads nothing, without an
/// error, until the client re-bootstraps. librdkafka waits 5 minutes for that by default,
/// which is how a one-broker restart used to stall the cluster for minutes.
pub const REBOOTSTRAP_AFTER_MS: &str = "5000";

/// Properties that hold secrets: taken from the environment only.
pub const SECRET_KEYS: [&str; 6] =
    ["sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem", "sasl.oauthbearer.client.secret", "sasl.jaas.config"];

/// The environment variables' prefix.
const ENV_PREFIX: &str = "RTDS_KAFKA_";

/// Kafka's bootstrap servers and the librdkafka properties every client gets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaConfig {
    pub brokers: String,
    properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<&str, &str> =
            self.properties.iter().map(|(k, v)| (k.as_str(), if is_secret(k) { "***" } else { v.as_str() })).collect();
        f.debug_struct("KafkaConfig").field("brokers", &self.brokers).field("properties", &shown).finish()
    }
}

impl From<&str> for KafkaConfig {
    fn from(brokers: &str) -> KafkaConfig {
        KafkaConfig::new(brokers)
    }
}

impl KafkaConfig {
    /// Plain connections to `brokers` (comma-separated `host:port`).
    pub fn new(brokers: &str) -> KafkaConfig {
        KafkaConfig { brokers: brokers.to_string(), properties: BTreeMap::new() }
    }

    /// Adds properties from a dataflow file; secrets are refused.
    pub fn with_properties<'a>(mut self, properties: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<KafkaConfig, String> {
        for (key, value) in properties {
            refuse_secret(key, "in a dataflow file (it would be committed)")?;
            self.properties.insert(key.clone(), value.clone());
        }
        Ok(self)
    }

    /// Adds one `KEY=VALUE` option of the command line; secrets are refused.
    pub fn with_option(mut self, option: &str) -> Result<KafkaConfig, String> {
        let (key, value) = option.split_once('=').ok_or_else(|| format!("-X {option:?}: expected KEY=VALUE, such as -X security.protocol=SASL_SSL"))?;
        let key = key.trim();
        refuse_secret(key, "on the command line (it shows in ps)")?;
        self.properties.insert(key.to_string(), value.to_string());
        Ok(self)
    }

    /// Adds the properties of `RTDS_KAFKA_*` variables of `environment` (such as
    /// `std::env::vars()`).
    pub fn with_environment(mut self, environment: impl IntoIterator<Item = (String, String)>) -> KafkaConfig {
        for (name, value) in environment {
            if let Some(key) = name.strip_prefix(ENV_PREFIX).filter(|k| !k.is_empty()) {
                self.properties.insert(key.to_ascii_lowercase().replace('_', "."), value);
            }
        }
        self
    }

    /// A property's value, if set.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The properties that are not secrets, as `-X KEY=VALUE` arguments for a child process
    /// (which gets the secrets through the environment it inherits).
    pub fn to_args(&self) -> Vec<String> {
        self.properties.iter().filter(|(k, _)| !is_secret(k)).flat_map(|(k, v)| ["-X".to_string(), format!("{k}={v}")]).collect()
    }

    /// A client configuration: rtds's common settings, then the configured properties.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "rtds")
            .set("socket.timeout.ms", "10000")
            .set("metadata.recovery.strategy", "rebootstrap")
            .set("metadata.recovery.rebootstrap.trigger.ms", REBOOTSTRAP_AFTER_MS);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

fn refuse_secret(key: &str, place: &str) -> Result<(), String> {
    if is_secret(key) {
        let variable = format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase());
        return Err(format!("{key} is a secret: set it in the environment as {variable}, not {place}"));
    }
    Ok(())
}
