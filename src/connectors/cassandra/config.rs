//! How rtds reaches Cassandra: contact points, credentials and TLS; and how a keyspace is
//! replicated and how many replicas answer for each statement.
//!
//! Contact points come from `--cassandra` (`RTDS_CASSANDRA`), the user from
//! `--cassandra-username` (`RTDS_CASSANDRA_USERNAME`), the password from the environment
//! only (`RTDS_CASSANDRA_PASSWORD`: a command line shows in `ps`), and TLS from
//! `--cassandra-ca FILE` (`RTDS_CASSANDRA_CA`): connections are encrypted and every node's
//! certificate must be signed by that CA and name the node's address.

use std::path::PathBuf;
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Consistency;

use crate::connectors::ServiceError;

/// Cassandra's contact points, credentials and TLS.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CassandraConfig {
    /// Comma-separated `host:port` contact points.
    pub nodes: String,
    pub username: Option<String>,
    password: Option<String>,
    /// Encrypt, trusting the certificates this CA signed.
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for CassandraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CassandraConfig")
            .field("nodes", &self.nodes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca", &self.ca)
            .finish()
    }
}

impl From<&str> for CassandraConfig {
    fn from(nodes: &str) -> CassandraConfig {
        CassandraConfig::new(nodes)
    }
}

impl CassandraConfig {
    /// Plain, unauthenticated connections to `nodes`.
    pub fn new(nodes: &str) -> CassandraConfig {
        CassandraConfig { nodes: nodes.to_string(), ..CassandraConfig::default() }
    }

    /// Logs in as `username` with `password`.
    pub fn with_credentials(mut self, username: &str, password: &str) -> CassandraConfig {
        self.username = Some(username.to_string());
        self.password = Some(password.to_string());
        self
    }

    /// Encrypts, verifying the nodes against `ca` (a PEM file).
    pub fn with_ca(mut self, ca: impl Into<PathBuf>) -> CassandraConfig {
        self.ca = Some(ca.into());
        self
    }

    /// The password from `RTDS_CASSANDRA_PASSWORD`, for a configured user.
    pub fn with_password_from_environment(mut self) -> CassandraConfig {
        if self.username.is_some() {
            self.password = std::env::var("RTDS_CASSANDRA_PASSWORD").ok();
        }
        self
    }
}

/// Connects to the contact points, with the credentials and TLS configured.
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let session = rtds::connectors::cassandra::connect(&"127.0.0.1:9042".into()).await?;
/// # Ok(()) }
/// ```
pub async fn connect(config: &CassandraConfig) -> Result<Session, ServiceError> {
    let unreachable = |reason: String| ServiceError::Unreachable {
        service: "Cassandra",
        address: config.nodes.clone(),
        env: "RTDS_CASSANDRA",
        reason,
    };
    let mut builder = SessionBuilder::new().connection_timeout(Duration::from_secs(5));
    for node in config.nodes.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        builder = builder.known_node(node);
    }
    if let Some(username) = &config.username {
        let Some(password) = &config.password else {
            return Err(ServiceError::Refused {
                service: "Cassandra",
                message: format!("user {username} has no password: set RTDS_CASSANDRA_PASSWORD"),
            });
        };
        builder = builder.user(username, password);
    }
    if let Some(ca) = &config.ca {
        builder = builder.tls_context(Some(tls(ca).map_err(|e| ServiceError::Refused {
            service: "Cassandra",
            message: format!("cannot use the CA {} for TLS: {e}", ca.display()),
        })?));
    }
    builder.build().await.map_err(|e| {
        let reason = e.to_string();
        if reason.contains("Authentication is required") {
            unreachable(format!("{reason} (set --cassandra-username or RTDS_CASSANDRA_USERNAME, and RTDS_CASSANDRA_PASSWORD)"))
        } else {
            unreachable(reason)
        }
    })
}

/// An OpenSSL client context trusting only `ca`.
fn tls(ca: &std::path::Path) -> Result<openssl::ssl::SslConnectorBuilder, openssl::error::ErrorStack> {
    let mut builder = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client())?;
    builder.set_ca_file(ca)?;
    builder.set_verify(openssl::ssl::SslVerifyMode::PEER);
    Ok(builder)
}

/// How a keyspace is replicated, and how many replicas answer for each statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Replication {
    pub factor: u32,
    /// NetworkTopologyStrategy in this datacenter; SimpleStrategy without.
    pub datacenter: Option<String>,
    pub consistency: Consistency,
}

impl Default for Replication {
    fn default() -> Replication {
        Replication { factor: 1, datacenter: None, consistency: Consistency::One }
    }
}

impl Replication {
    /// `factor` copies (in `datacenter`, if given), with `consistency` by name or, by
    /// default, LOCAL_QUORUM when there are several copies and ONE otherwise.
    ///
    /// ```
    /// use rtds::connectors::cassandra::Replication;
    /// let three = Replication::new(3, Some("dc1".into()), None).unwrap();
    /// assert_eq!(three.cql(), "{'class': 'NetworkTopologyStrategy', 'dc1': 3}");
    /// assert_eq!(format!("{:?}", three.consistency), "LocalQuorum");
    /// assert!(Replication::new(1, None, Some("most")).unwrap_err().contains("local_quorum"));
    /// ```
    pub fn new(factor: u32, datacenter: Option<String>, consistency: Option<&str>) -> Result<Replication, String> {
        let consistency = match consistency {
            Some(name) => parse_consistency(name)?,
            None if factor > 1 => Consistency::LocalQuorum,
            None => Consistency::One,
        };
        if let Some(dc) = &datacenter {
            let plain = !dc.is_empty() && dc.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain {
                return Err(format!("datacenter {dc:?} is not a plain name (letters, digits, _ and -)"));
            }
        }
        Ok(Replication { factor, datacenter, consistency })
    }

    /// The keyspace's `replication` map in CQL.
    pub fn cql(&self) -> String {
        match &self.datacenter {
            Some(dc) => format!("{{'class': 'NetworkTopologyStrategy', '{dc}': {}}}", self.factor),
            None => format!("{{'class': 'SimpleStrategy', 'replication_factor': {}}}", self.factor),
        }
    }
}

fn parse_consistency(name: &str) -> Result<Consistency, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "one" => Consistency::One,
        "two" => Consistency::Two,
        "three" => Consistency::Three,
        "quorum" => Consistency::Quorum,
        "all" => Consistency::All,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        _ => return Err(format!("consistency {name:?} is not one of one, two, three, quorum, all, local_quorum, each_quorum, local_one")),
    })
}
