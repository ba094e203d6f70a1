//! The randomuser clone (`rtds api serve`) and the API client.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use rtds::api::server::spawn_local;
use rtds::api::{ApiClient, Faults, FetchError, PageRequest, RetryPolicy};
use rtds::model::{User, parse_response};

use crate::util::{fixture, runtime};

/// A value's shape: objects by key, every leaf by JSON type.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

fn get(client: &ApiClient, page: PageRequest) -> String {
    runtime().block_on(client.fetch(&page)).unwrap()
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts: attempts, base_delay: Duration::from_millis(5), max_delay: Duration::from_millis(50) }
}

/// Starts a clone with `faults` and returns a client for it (and the runtime serving it).
fn clone_with(faults: Faults, attempts: u32) -> (tokio::runtime::Runtime, ApiClient) {
    let rt = runtime();
    let (url, _stats) = rt.block_on(spawn_local(faults)).unwrap();
    (rt, ApiClient::new(&url, fast_retries(attempts)).unwrap())
}

#[test]
fn serve_answers_with_the_shape_of_the_real_1_4_api_for_every_nationality() {
    let real: Value = serde_json::from_str(&fixture("real-1.json")).unwrap();
    let (rt, client) = clone_with(Faults::default(), 1);
    let body = rt.block_on(client.fetch(&PageRequest { results: 5000, seed: Some("shape".into()), ..Default::default() })).unwrap();
    let ours: Value = serde_json::from_str(&body).unwrap();

    // The envelope: the same keys, and info with the same keys and types.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(shape(&ours["info"]), shape(&real["info"]));
    assert_eq!(ours["info"]["version"], "1.4");
    assert_eq!(ours["info"]["seed"], "shape");
    assert_eq!(ours["info"]["results"], 5000);

    // Each nationality's records: key by key, type by type, like the real one of that nat.
    let mut real_by_nat: BTreeMap<String, &Value> = BTreeMap::new();
    for record in real["results"].as_array().unwrap() {
        real_by_nat.entry(record["nat"].as_str().unwrap().to_string()).or_insert(record);
    }
    assert_eq!(real_by_nat.len(), 21);
    let mut seen = HashSet::new();
    for record in ours["results"].as_array().unwrap() {
        let nat = record["nat"].as_str().unwrap();
        let twin = real_by_nat.get(nat).unwrap_or_else(|| panic!("unknown nat {nat}"));
        assert_eq!(shape(record), shape(twin), "record shape for {nat}: {record}");
        if seen.insert(nat.to_string()) {
            assert_eq!(record["location"]["country"], twin["location"]["country"], "{nat}");
            assert_eq!(record["id"]["name"], twin["id"]["name"], "{nat}");
        }
        User::from_json(&record.to_string()).expect("our records format");
    }
    assert_eq!(seen.len(), 21, "5000 users cover all nationalities");
}

#[test]
fn serve_is_deterministic_per_seed_and_page() {
    let (rt, client) = clone_with(Faults::default(), 1);
    let page = |seed: &str, page: u32, results: u32| {
        let body = rt
            .block_on(client.fetch(&PageRequest { results, page: Some(page), seed: Some(seed.into()), ..Default::default() }))
            .unwrap();
        let users: Vec<User> = parse_response(&body).unwrap().results.iter().map(|r| User::from_json(r.get()).unwrap()).collect();
        users
    };
    let a = page("abc", 1, 50);
    assert_eq!(a, page("abc", 1, 50), "same seed and page, same users");
    assert_ne!(a, page("abc", 2, 50), "another page, other users");
    assert_ne!(a, page("abd", 1, 50), "another seed, other users");
    assert_eq!(a[..10], page("abc", 1, 10)[..], "a shorter page starts with the same users");
    let ids: HashSet<_> = a.iter().chain(page("abc", 2, 50).iter()).map(|u| u.id).collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn serve_reads_parameters_like_randomuser() {
    let (rt, client) = clone_with(Faults::default(), 1);
    let fetch = |page: PageRequest| -> Value { serde_json::from_str(&rt.block_on(client.fetch(&page)).unwrap()).unwrap() };

    let silly = fetch(PageRequest { results: 99999, ..Default::default() });
    assert_eq!(silly["results"].as_array().unwrap().len(), 1, "out-of-range results give one user");
    assert_eq!(silly["info"]["seed"].as_str().unwrap().len(), 16, "a random seed is made and reported");

    let nat = fetch(PageRequest { results: 40, nat: Some("gB,Fr,zz".into()), gender: Some("female".into()), ..Default::default() });
    for user in nat["results"].as_array().unwrap() {
        assert!(["GB", "FR"].contains(&user["nat"].as_str().unwrap()), "{}", user["nat"]);
        assert_eq!(user["gender"], "female");
    }

    let inc = fetch(PageRequest { results: 3, inc: Some("name,login,nat".into()), noinfo: true, ..Default::default() });
    assert!(inc.get("info").is_none(), "noinfo leaves info out");
    let first = inc["results"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["login", "name", "nat"]);

    let exc = fetch(PageRequest { results: 1, exc: Some("login,picture".into()), ..Default::default() });
    let record = exc["results"][0].as_object().unwrap();
    assert!(!record.contains_key("login") && !record.contains_key("picture") && record.contains_key("email"));
    // Formatting a record without login.uuid derives a stable id.
    let user = User::from_json(&exc["results"][0].to_string()).unwrap();
    assert_eq!(user.id.get_version_num(), 5);
    assert_eq!(user.username, None);
}

#[test]
fn the_client_retries_server_errors_until_an_answer() {
    let (_rt, client) = clone_with(Faults { error_rate: 0.6, ..Default::default() }, 30);
    for page in 1..=10 {
        let body = get(&client, PageRequest { results: 20, page: Some(page), seed: Some("retry".into()), ..Default::default() });
        assert_eq!(parse_response(&body).unwrap().results.len(), 20);
    }
}

#[test]
fn the_client_gives_up_with_a_clear_error() {
    let (rt, client) = clone_with(Faults { error_rate: 1.0, ..Default::default() }, 3);
    let err = rt.block_on(client.fetch(&PageRequest { results: 1, ..Default::default() })).unwrap_err();
    assert!(matches!(err, FetchError::GaveUp { attempts: 3, .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(client.url()) && message.contains("Uh oh"), "{message}");

    // Nothing listens: connection refused, named.
    let dead = ApiClient::new("http://127.0.0.1:9/api/", fast_retries(2)).unwrap();
    let err = rt.block_on(dead.fetch(&PageRequest { results: 1, ..Default::default() })).unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
}

#[test]
fn the_client_waits_out_rate_limits() {
    let rt = runtime();
    let (url, stats) = rt.block_on(spawn_local(Faults { rate_limit: Some(2), ..Default::default() })).unwrap();
    // Retry-After says 1 s; allow waits that long.
    let client = ApiClient::new(&url, RetryPolicy { max_delay: Duration::from_secs(1), ..fast_retries(10) }).unwrap();
    for _ in 0..6 {
        rt.block_on(client.fetch(&PageRequest { results: 1, ..Default::default() })).unwrap();
    }
    assert!(stats.rate_limited.load(std::sync::atomic::Ordering::Relaxed) > 0, "some requests were answered 429");
}

#[test]
fn malformed_records_are_rejected_one_by_one() {
    let (_rt, client) = clone_with(Faults { malformed_rate: 0.3, ..Default::default() }, 1);
    let body = get(&client, PageRequest { results: 200, seed: Some("bad".into()), ..Default::default() });
    let response = parse_response(&body).unwrap();
    let (good, bad): (Vec<_>, Vec<_>) = response.results.iter().map(|r| User::from_json(r.get())).partition(Result::is_ok);
    assert_eq!(good.len() + bad.len(), 200);
    assert!(!bad.is_empty() && !good.is_empty(), "{} bad of 200", bad.len());
    for err in bad {
        assert!(err.unwrap_err().to_string().contains("name: invalid type"));
    }
}

#[test]
fn format_command_prints_rows_and_names_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("response.json");
    std::fs::write(&path, fixture("real-4.json")).unwrap();
    let out = crate::util::rtds().arg("format").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[0]["dob"], "2015-05-01T16:44:08Z");

    std::fs::write(&path, r#"{"error":"Uh oh, something has gone wrong."}"#).unwrap();
    let out = crate::util::rtds().arg("format").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("the API answered with an error: Uh oh") && stderr.contains("response.json"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    std::fs::write(&path, r#"[{"name":{"first":"a","last":"b"},"email":"a@b.c"},{"name":{"first":7}}]"#).unwrap();
    let out = crate::util::rtds().arg("format").arg(&path).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1, "the good record is still printed");
    assert!(String::from_utf8(out.stderr).unwrap().contains("record 1: malformed record: name.first"));
}

#[test]
fn write_json_writes_what_serde_json_writes_for_every_nationality_and_field_subset() {
    use rtds::api::generator::{ALL_FIELDS, FIELDS, Generator, NATIONALITIES, Request, field_bit, write_json};
    let generator = Generator::new();
    let mut subsets = vec![ALL_FIELDS, 0];
    subsets.extend(FIELDS.iter().map(|f| field_bit(f).unwrap()));
    subsets.extend(FIELDS.iter().map(|f| ALL_FIELDS & !field_bit(f).unwrap()));
    for nat in NATIONALITIES.iter() {
        for fields in &subsets {
            let request = Request { seed: format!("json-{}", nat.code), results: 20, nats: vec![nat], fields: *fields, ..Request::default() };
            for user in generator.page(&request) {
                let mut out = Vec::new();
                write_json(&user, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&user).unwrap());
            }
        }
    }
}

#[test]
fn faults_fall_where_the_seed_says() {
    let rt = runtime();
    let faults = |seed| Faults { error_rate: 0.3, malformed_rate: 0.05, seed, ..Faults::default() };
    // Statuses of 40 requests, and the body of page 2 once it is answered.
    let answers = |faults: Faults| {
        rt.block_on(async {
            let (url, stats) = spawn_local(faults).await.unwrap();
            let mut statuses = Vec::new();
            let mut body = None;
            for _ in 0..40 {
                let response = reqwest::get(format!("{url}?results=200&seed=faults&page=2")).await.unwrap();
                statuses.push(response.status().as_u16());
                let text = response.text().await.unwrap();
                if statuses.last() == Some(&200) {
                    assert_eq!(body.get_or_insert_with(|| text.clone()), &text, "a page retried brings the same records");
                }
            }
            (statuses, body.unwrap(), stats.malformed_records.load(std::sync::atomic::Ordering::Relaxed))
        })
    };
    let (statuses, body, malformed) = answers(faults(7));
    assert!(statuses.contains(&200) && statuses.iter().any(|s| *s >= 500), "{statuses:?}");
    assert!(malformed > 0, "some records were corrupted");
    assert_eq!(answers(faults(7)), (statuses.clone(), body.clone(), malformed), "the same seed, the same faults");
    assert_ne!(answers(faults(8)).0, statuses, "another seed, other faults");
}
