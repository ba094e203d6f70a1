//! The Schema Registry, through the Confluent-compatible API (`/apis/ccompat/v7` of Apicurio
//! Registry, or a Confluent Schema Registry itself): what `rtds cdc` registers and the
//! workers read back by id.
//!
//! - [`avro`]: the Avro value schema derived from `created_users`' columns as PostgreSQL's
//!   replication stream describes them, and the rows encoded in the Confluent wire format
//!   (magic byte 0, the 4-byte schema id, the Avro binary body);
//! - [`decode`]: the workers' side: schemas fetched once per id and cached, each message read
//!   by its writer schema into the formatted row.
//!
//! Subjects follow Confluent's TopicNameStrategy: the values of `users_created` are
//! `users_created-value`, registered with compatibility BACKWARD (a new version must read
//! the data of the last one: columns may be added with a default, not retyped). Keys stay the
//! id as text (a documented string key, what every Kafka tool reads).

pub mod avro;
pub mod decode;

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::ServiceError;

/// The environment variable naming the registry's Confluent API base.
pub const REGISTRY_ENV: &str = "RTDS_SCHEMA_REGISTRY";

/// The compatibility rule rtds sets on the subjects it registers.
pub const COMPATIBILITY: &str = "BACKWARD";

/// The content type of the Confluent API.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The value subject of `topic` (TopicNameStrategy).
pub fn value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

/// A client of the registry's Confluent API at `base` (such as
/// `http://127.0.0.1:8081/apis/ccompat/v7`).
#[derive(Debug, Clone)]
pub struct Registry {
    http: reqwest::Client,
    base: String,
}

/// A schema as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Registered {
    pub id: u32,
    pub version: u32,
    pub schema: String,
}

/// Why a schema was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The subject's compatibility rule refuses it: the registry's own words.
    #[error("the registry refuses it under its {rule} rule: {message}")]
    Incompatible { rule: String, message: String },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Registry {
    /// A client of the registry at `base` (its Confluent API, no trailing slash needed).
    pub fn new(base: &str) -> Registry {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client builds");
        Registry { http, base: base.trim_end_matches('/').to_string() }
    }

    /// The API base this client talks to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sets the subject's compatibility rule.
    pub async fn set_compatibility(&self, subject: &str, rule: &str) -> Result<(), ServiceError> {
        let url = format!("{}/config/{subject}", self.base);
        let response = self.send(self.http.put(&url).body(json!({ "compatibility": rule }).to_string())).await?;
        check(&url, response).await.map(drop)
    }

    /// Registers `schema` (Avro JSON) under `subject`: the id it has (a schema registered
    /// before keeps its id) and its version, or the rule that refuses it.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<Registered, RegisterError> {
        let url = format!("{}/subjects/{subject}/versions", self.base);
        let response = self.send(self.http.post(&url).body(json!({ "schema": schema }).to_string())).await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            let message = error_message(response).await;
            let rule = self.compatibility(subject).await.unwrap_or_else(|_| COMPATIBILITY.to_string());
            return Err(RegisterError::Incompatible { rule, message });
        }
        #[derive(Deserialize)]
        struct Id {
            id: u32,
        }
        let Id { id } = answer(&url, response).await?;
        // The version the id has under the subject (the answer to a POST names only the id).
        let url = format!("{}/subjects/{subject}", self.base);
        let response = self.send(self.http.post(&url).body(json!({ "schema": schema }).to_string())).await?;
        let found: Registered = answer(&url, response).await?;
        Ok(Registered { id, ..found })
    }

    /// The newest schema under `subject`, if any.
    pub async fn latest(&self, subject: &str) -> Result<Option<Registered>, ServiceError> {
        let url = format!("{}/subjects/{subject}/versions/latest", self.base);
        let response = self.send(self.http.get(&url)).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer(&url, response).await.map(Some)
    }

    /// The schema with id `id`; `None` when the registry has no such id.
    pub async fn schema(&self, id: u32) -> Result<Option<String>, ServiceError> {
        let url = format!("{}/schemas/ids/{id}", self.base);
        let response = self.send(self.http.get(&url)).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Schema {
            schema: String,
        }
        let Schema { schema } = answer(&url, response).await?;
        Ok(Some(schema))
    }

    /// The subject's compatibility rule (its own, else the registry's default).
    async fn compatibility(&self, subject: &str) -> Result<String, ServiceError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Config {
            compatibility_level: String,
        }
        let url = format!("{}/config/{subject}?defaultToGlobal=true", self.base);
        let response = self.send(self.http.get(&url)).await?;
        let Config { compatibility_level } = answer(&url, response).await?;
        Ok(compatibility_level)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ServiceError> {
        request.header("content-type", CONTENT_TYPE).header("accept", CONTENT_TYPE).send().await.map_err(|e| ServiceError::Unreachable {
            service: "the Schema Registry",
            address: self.base.clone(),
            env: REGISTRY_ENV,
            reason: e.to_string(),
        })
    }
}

/// A successful answer's JSON body read as `T`.
async fn answer<T: serde::de::DeserializeOwned>(url: &str, response: reqwest::Response) -> Result<T, ServiceError> {
    serde_json::from_str(&check(url, response).await?)
        .map_err(|e| ServiceError::Failed { service: "Schema Registry", message: format!("{url}: unexpected answer: {e}") })
}

/// The body of a successful answer; a server error may pass, a client error will not.
async fn check(url: &str, response: reqwest::Response) -> Result<String, ServiceError> {
    let status = response.status();
    if status.is_success() {
        return response.text().await.map_err(|e| ServiceError::Failed { service: "Schema Registry", message: format!("{url}: {e}") });
    }
    let message = format!("{url}: {status}: {}", error_message(response).await);
    Err(if status.is_server_error() {
        ServiceError::Failed { service: "Schema Registry", message }
    } else {
        ServiceError::Refused { service: "Schema Registry", message }
    })
}

/// The `message` of a Confluent API error body, or the body itself.
async fn error_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or(text)
}
