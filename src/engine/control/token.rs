//! The cluster token: a secret every machine of one cluster shares. A worker machine proves
//! it knows it before the master hands it any work, and the master proves it back, so a
//! worker never runs what a stranger tells it. Neither side sends the token itself: each
//! answers the other's random nonce with HMAC-SHA256(token, nonce), so a proof overheard on
//! the network cannot be replayed.
//!
//! ```
//! use rtds::engine::control::ClusterToken;
//! let token = ClusterToken::new("correct horse battery staple").unwrap();
//! let nonce = ClusterToken::nonce();
//! assert!(token.verify(&nonce, &token.proof(&nonce)));
//! let other = ClusterToken::new("another cluster's long secret").unwrap();
//! assert!(!token.verify(&nonce, &other.proof(&nonce)));
//! assert!(ClusterToken::new("short").unwrap_err().to_string().contains("at least 16"));
//! ```

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the token comes from when none is given: this variable.
pub const TOKEN_ENV: &str = "RTDS_CLUSTER_TOKEN";

/// Fewer characters than this are refused: a token is guessed as easily as it is short.
const MIN_LENGTH: usize = 16;

/// The cluster's shared secret. Debug output never shows it.
#[derive(Clone)]
pub struct ClusterToken(Vec<u8>);

impl std::fmt::Debug for ClusterToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterToken(***)")
    }
}

/// Why there is no usable token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "a cluster token is needed for workers of other machines to register, and for the worker processes of a \
         cluster (-n above 1) to connect to each other: set {TOKEN_ENV} or --token-file FILE, the same on the master \
         and every worker (make one with `openssl rand -hex 32`)"
    )]
    Missing,
    #[error("cannot read the cluster token file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the cluster token is too short: use at least {MIN_LENGTH} characters (`openssl rand -hex 32` makes a good one)")]
    TooShort,
}

type HmacSha256 = Hmac<Sha256>;

impl ClusterToken {
    /// A token from its text (surrounding whitespace ignored).
    pub fn new(secret: &str) -> Result<ClusterToken, TokenError> {
        let secret = secret.trim();
        if secret.len() < MIN_LENGTH {
            return Err(TokenError::TooShort);
        }
        Ok(ClusterToken(secret.as_bytes().to_vec()))
    }

    /// The token in `file`, else in [`TOKEN_ENV`].
    pub fn from_file_or_env(file: Option<&Path>) -> Result<ClusterToken, TokenError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read { path: path.display().to_string(), source })?;
                ClusterToken::new(&text)
            }
            None => ClusterToken::new(&std::env::var(TOKEN_ENV).map_err(|_| TokenError::Missing)?),
        }
    }

    /// A fresh random token, for processes that only need to share one among themselves (the
    /// worker processes `rtds master --local` starts).
    pub fn random() -> ClusterToken {
        ClusterToken(ClusterToken::nonce().into_bytes())
    }

    /// Hands the token to a child process in [`TOKEN_ENV`]: a process's environment is its
    /// own, its command line anyone on the machine can read.
    pub fn pass_to<'a>(&self, command: &'a mut std::process::Command) -> &'a mut std::process::Command {
        use std::os::unix::ffi::OsStrExt;
        command.env(TOKEN_ENV, std::ffi::OsStr::from_bytes(&self.0))
    }

    /// A fresh random nonce, as hex.
    pub fn nonce() -> String {
        hex(&rand::random::<[u8; 32]>())
    }

    /// The proof of knowing the token for `nonce`: HMAC-SHA256(token, nonce), as hex.
    pub fn proof(&self, nonce: &str) -> String {
        hex(&self.mac(nonce).finalize().into_bytes())
    }

    /// Whether `proof` answers `nonce` under this token (compared in constant time).
    pub fn verify(&self, nonce: &str, proof: &str) -> bool {
        let Some(bytes) = unhex(proof) else { return false };
        self.mac(nonce).verify_slice(&bytes).is_ok()
    }

    fn mac(&self, nonce: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(nonce.as_bytes());
        mac
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}
