//! How rtds reaches PostgreSQL: a connection string as libpq takes it, a URL
//! (`postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=ca.pem`) or
//! `key=value` pairs, password and TLS included.
//!
//! `sslmode` means what it means to libpq: `disable` (plain), `prefer` (the default: TLS if
//! the server offers it, unverified), `require` (TLS, unverified unless `sslrootcert` is
//! given, then the chain is verified), `verify-ca` (the chain) and `verify-full` (the chain
//! and that the certificate names the host). tokio-postgres reads everything but the
//! `verify-*` modes and `sslrootcert`, which are taken out here and turned into the TLS
//! connector's settings. Messages show the string without its password ([`PgConfig::redacted`]).
//!
//! ```
//! use rtds::connectors::postgres::PgConfig;
//! let config = PgConfig::parse("postgres://rtds:s3cret@db.example.com/users?sslmode=verify-full&sslrootcert=/etc/ca.pem").unwrap();
//! assert_eq!(config.redacted(), "postgres://rtds@db.example.com:5432/users?sslmode=verify-full");
//! let config = PgConfig::parse("host=10.0.0.5 user=rtds password=s3cret dbname=users").unwrap();
//! assert_eq!(config.redacted(), "postgres://rtds@10.0.0.5:5432/users?sslmode=prefer");
//! ```

use std::path::PathBuf;

use tokio_postgres::config::{Host, SslMode};

use crate::connectors::ServiceError;

/// How much TLS a connection asks for, in libpq's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed PostgreSQL connection string.
#[derive(Clone)]
pub struct PgConfig {
    config: tokio_postgres::Config,
    tls: TlsMode,
    /// The CA certificates to verify the server with (`sslrootcert`).
    root: Option<PathBuf>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl PgConfig {
    /// Parses a URL or `key=value` connection string.
    pub fn parse(text: &str) -> Result<PgConfig, ServiceError> {
        let refused = |message: String| ServiceError::Refused { service: "PostgreSQL", message };
        let mut tls = None;
        let mut root = None;
        // Takes out the keys tokio-postgres does not read, keeping the rest as it is.
        let mut keep = |key: &str, value: &str| -> Result<bool, ServiceError> {
            match key {
                "sslrootcert" => root = Some(PathBuf::from(value)),
                "sslmode" => {
                    tls = Some(match value {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        _ => return Err(refused(format!("sslmode={value} is not disable, prefer, require, verify-ca or verify-full"))),
                    })
                }
                _ => return Ok(true),
            }
            Ok(false)
        };
        let rest = if let Some((base, query)) = text.split_once('?').filter(|_| text.contains("://")) {
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if keep(key, value)? {
                    kept.push(pair);
                }
            }
            if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) }
        } else if text.contains("://") {
            text.to_string()
        } else {
            let mut kept = Vec::new();
            for pair in text.split_whitespace() {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if keep(key.trim(), value.trim_matches('\''))? {
                    kept.push(pair);
                }
            }
            kept.join(" ")
        };
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e| refused(format!("cannot read the connection string (not shown: it may hold a password): {e}")))?;
        let tls = tls.unwrap_or(TlsMode::Prefer);
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        Ok(PgConfig { config, tls, root })
    }

    /// The string without its password, for messages: `postgres://user@host:port/db?sslmode=…`.
    pub fn redacted(&self) -> String {
        let user = self.config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = self.config.get_ports().get(i).or(self.config.get_ports().first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    #[cfg(unix)]
                    Host::Unix(path) => format!("{}:{port}", path.display()),
                }
            })
            .collect();
        let database = self.config.get_dbname().unwrap_or_default();
        format!("postgres://{user}{}/{database}?sslmode={}", hosts.join(","), self.tls.name())
    }

    /// tokio-postgres's configuration (password and TLS mode included).
    pub fn tokio_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS mode asked for.
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// Connects and drives the connection on the current tokio runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, ServiceError> {
        let unreachable = |reason: String| ServiceError::Unreachable {
            service: "PostgreSQL",
            address: self.redacted(),
            env: "RTDS_POSTGRES",
            reason,
        };
        let connector = self.tls_connector().map_err(|e| unreachable(format!("cannot set up TLS: {e}")))?;
        let (client, connection) = self
            .config
            .connect(postgres_native_tls::MakeTlsConnector::new(connector))
            .await
            .map_err(|e| unreachable(super::error_text(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "PostgreSQL connection closed");
            }
        });
        Ok(client)
    }

    /// The TLS connector for the mode: it verifies what the mode says, nothing more (libpq's
    /// `prefer` and `require` encrypt without checking whom they talk to).
    fn tls_connector(&self) -> Result<native_tls::TlsConnector, String> {
        let mut builder = native_tls::TlsConnector::builder();
        let verify_chain = matches!(self.tls, TlsMode::VerifyCa | TlsMode::VerifyFull) || (self.tls == TlsMode::Require && self.root.is_some());
        if let Some(root) = &self.root {
            let pem = std::fs::read(root).map_err(|e| format!("cannot read sslrootcert {}: {e}", root.display()))?;
            let certificate = native_tls::Certificate::from_pem(&pem).map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
            builder.add_root_certificate(certificate).disable_built_in_roots(true);
        }
        builder.danger_accept_invalid_certs(!verify_chain);
        builder.danger_accept_invalid_hostnames(self.tls != TlsMode::VerifyFull);
        builder.build().map_err(|e| e.to_string())
    }

    /// The replication connection's TLS settings: the same mode and root.
    pub(super) fn replication_tls(&self, host: &str) -> pgwire_replication::TlsConfig {
        use pgwire_replication::TlsConfig;
        match self.tls {
            TlsMode::Disable => TlsConfig::disabled(),
            TlsMode::Prefer => TlsConfig { mode: pgwire_replication::SslMode::Prefer, ..TlsConfig::disabled() },
            TlsMode::Require if self.root.is_none() => TlsConfig::require(),
            TlsMode::Require | TlsMode::VerifyCa => TlsConfig::verify_ca(self.root.clone()),
            // rustls verifies an IP address against the certificate only when told the name.
            TlsMode::VerifyFull => TlsConfig::verify_full(self.root.clone()).with_sni_hostname(host),
        }
    }
}
