//! The stack's Schema Registry (Apicurio, `scripts/stack up registry`) through its
//! Confluent-compatible API, as `rtds cdc` and the workers will use it: subjects, schema ids,
//! compatibility rules, and state kept in PostgreSQL rather than in memory.

use serde_json::{Value, json};

use crate::util::{runtime, unique};

/// The registry's Confluent API base, after checking it answers; a missing registry fails the
/// test with the way to start it.
async fn registry() -> (reqwest::Client, String) {
    let base = std::env::var("RTDS_SCHEMA_REGISTRY").unwrap_or_else(|_| "http://127.0.0.1:8081/apis/ccompat/v7".into());
    let client = reqwest::Client::new();
    if let Err(e) = client.get(format!("{base}/subjects")).send().await.and_then(|r| r.error_for_status()) {
        panic!("the Schema Registry at {base} does not answer ({e})\nThis test needs it: run `scripts/test`, or `scripts/stack up` (it starts the registry) then `cargo test --release -- --include-ignored`.");
    }
    (client, base)
}

/// An Avro record schema of the user row's fields (`extra`: one more, with a default).
fn user_schema(name_type: &str, extra: bool) -> String {
    let mut fields = vec![json!({"name": "id", "type": "string"}), json!({"name": "first_name", "type": ["null", name_type], "default": null})];
    if extra {
        fields.push(json!({"name": "nickname", "type": ["null", "string"], "default": null}));
    }
    json!({"type": "record", "name": "User", "namespace": "rtds", "fields": fields}).to_string()
}

/// POST a schema under `subject`: the answer's status and body.
async fn register(client: &reqwest::Client, base: &str, subject: &str, schema: &str) -> (u16, Value) {
    let response = client
        .post(format!("{base}/subjects/{subject}/versions"))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(json!({ "schema": schema }).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

/// GET a JSON answer.
async fn get(client: &reqwest::Client, url: &str) -> Value {
    let text = client.get(url).send().await.unwrap().error_for_status().unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

#[test]
#[ignore = "needs the Schema Registry: run scripts/test"]
fn the_registry_keeps_schemas_by_id_and_refuses_an_incompatible_change() {
    runtime().block_on(async {
        let (client, base) = registry().await;
        let subject = format!("{}-value", unique("users"));
        // BACKWARD, as `rtds cdc` will set it: a new schema must read the data of the last one.
        let config = client
            .put(format!("{base}/config/{subject}"))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(json!({ "compatibility": "BACKWARD" }).to_string())
            .send()
            .await
            .unwrap();
        assert!(config.status().is_success(), "PUT /config: {}", config.text().await.unwrap());

        let (status, first) = register(&client, &base, &subject, &user_schema("string", false)).await;
        assert_eq!(status, 200, "the first schema registers: {first}");
        let first_id = first["id"].as_i64().expect("an id");
        let (_, again) = register(&client, &base, &subject, &user_schema("string", false)).await;
        assert_eq!(again["id"].as_i64(), Some(first_id), "the same schema again keeps its id");

        // A column added with a default reads old data: a new version, a new id.
        let (status, second) = register(&client, &base, &subject, &user_schema("string", true)).await;
        assert_eq!(status, 200, "a compatible change registers: {second}");
        let second_id = second["id"].as_i64().expect("an id");
        assert_ne!(second_id, first_id);

        // A column retyped cannot read old data: refused, and nothing is registered.
        let (status, refused) = register(&client, &base, &subject, &user_schema("int", true)).await;
        assert_eq!(status, 409, "an incompatible change is refused: {refused}");
        let versions = get(&client, &format!("{base}/subjects/{subject}/versions")).await;
        assert_eq!(versions, json!([1, 2]), "two versions, the refused one not among them");

        // Each id gives back its schema (what a worker fetches to decode a message).
        let by_id = get(&client, &format!("{base}/schemas/ids/{first_id}")).await;
        let schema: Value = serde_json::from_str(by_id["schema"].as_str().unwrap()).unwrap();
        assert_eq!(schema["fields"].as_array().map(Vec::len), Some(2), "id {first_id} is the first schema: {schema}");

        // Not in memory: the schemas are rows of the registry's PostgreSQL database.
        let url = std::env::var("RTDS_POSTGRES").unwrap_or_else(|_| rtds::connectors::defaults::POSTGRES.into());
        let apicurio = url.rsplit_once('/').map(|(server, _)| format!("{server}/apicurio")).unwrap();
        let db = rtds::connectors::postgres::connect(&apicurio).await.expect("the registry's database apicurio (scripts/stack up registry makes it)");
        let stored: i64 = db.query_one("select count(*) from versions where artifactid = $1", &[&subject]).await.unwrap().get(0);
        assert_eq!(stored, 2, "both versions are stored in PostgreSQL, where a restart finds them");
    });
}
