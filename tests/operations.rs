//! Operations (issue 28): the Airflow DAG in `dags/`, the Prometheus alert rules in
//! `ops/prometheus/` and the Grafana dashboard in `ops/grafana/`. The live half (Prometheus
//! scraping a running cluster, every panel's query answered, an alert firing and resolving)
//! is `cluster::alerts`.

use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{fresh_database, root, runtime};

/// `promtool`, or the way to get it.
fn promtool(args: &[&str]) -> Output {
    Command::new("promtool").args(args).current_dir(root()).output().unwrap_or_else(|e| {
        panic!("promtool cannot run ({e}): it comes with Debian's prometheus package, which `scripts/stack up prometheus` installs")
    })
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
#[ignore = "needs promtool (Debian's prometheus package): run scripts/test"]
fn the_alert_rules_check_and_pass_their_promtool_tests() {
    let check = promtool(&["check", "rules", "ops/prometheus/rules/rtds.yml"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("SUCCESS: 10 rules found"), "{}", text(&check));
    // Each rule fires on the series that should raise it and stays quiet on healthy ones.
    let tests = promtool(&["test", "rules", "ops/prometheus/tests/rtds.yml"]);
    assert!(tests.status.success(), "promtool test rules failed:\n{}", text(&tests));
    let config = promtool(&["check", "config", "--syntax-only", "ops/prometheus/prometheus.yml"]);
    assert!(config.status.success(), "{}", text(&config));
}

/// Every `expr` of a Grafana dashboard, rows' nested panels included, with its panel's title.
pub fn dashboard_queries() -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((title.to_string(), expr.to_string()));
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut queries = Vec::new();
    walk(&dashboard()["panels"], &mut queries);
    queries
}

fn dashboard() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("ops/grafana/dashboards/rtds.json")).unwrap()).unwrap()
}

#[test]
fn the_dashboard_queries_the_provisioned_datasource_and_shows_what_the_issue_asks() {
    let provisioned: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(root().join("ops/grafana/provisioning/datasources/prometheus.yml")).unwrap()).unwrap();
    let uid = provisioned["datasources"][0]["uid"].as_str().expect("the provisioned datasource has a uid");
    // Every panel and every query names that datasource.
    fn uids(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(ds)) = map.get("datasource") {
                    out.push(ds.get("uid").and_then(Value::as_str).unwrap_or("(none)").to_string());
                }
                map.values().for_each(|v| uids(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| uids(v, out)),
            _ => {}
        }
    }
    let mut named = Vec::new();
    uids(&dashboard()["panels"], &mut named);
    assert!(!named.is_empty());
    assert!(named.iter().all(|u| u == uid), "datasource uids in the dashboard: {named:?}, provisioned: {uid}");
    let queries = dashboard_queries();
    let all: String = queries.iter().map(|(_, q)| q.as_str()).collect::<Vec<_>>().join("\n");
    for metric in [
        "rtds_records_per_second",
        "rtds_end_to_end_latency_seconds_bucket",
        "rtds_kafka_lag_records",
        "rtds_dead_letters",
        "rtds_view_value",
        "rtds_cdc_changes_per_second",
        "jvm_memory_used_bytes{job=\"kafka\"",
        "jvm_memory_used_bytes{job=\"cassandra\"",
    ] {
        assert!(all.contains(metric), "no panel shows {metric}:\n{all}");
    }
}

/// This test run's Airflow home (SQLite database, logs), removed when the guard drops.
fn airflow_home() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rtds-test-airflow-{}", std::process::id()))
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `scripts/airflow ARGS` with the DAG's environment: rtds from this build, and PostgreSQL and
/// the API either from Airflow Connections (given as environment variables, Airflow's own way),
/// with the worker's own settings pointing nowhere, or from the worker's environment alone.
fn airflow(args: &[&str], database: &str, api: &str, connections: bool) -> Output {
    let mut command = Command::new(root().join("scripts/airflow"));
    command.args(args).env("RTDS_BIN", env!("CARGO_BIN_EXE_rtds")).env("RTDS_DAG_SCHEDULE", "none").env("AIRFLOW_HOME", airflow_home());
    if connections {
        command
            .env("AIRFLOW_CONN_RTDS_POSTGRES", database)
            .env("AIRFLOW_CONN_RTDS_API", serde_json::json!({ "conn_type": "http", "host": api }).to_string())
            .env("RTDS_POSTGRES", "postgres://nobody@127.0.0.1:1/nothing")
            .env("RTDS_API", "http://127.0.0.1:1/nothing");
    } else {
        command.env_remove("AIRFLOW_CONN_RTDS_POSTGRES").env_remove("AIRFLOW_CONN_RTDS_API").env("RTDS_POSTGRES", database).env("RTDS_API", api);
    }
    command.output().unwrap()
}

#[test]
#[ignore = "needs Python 3 (scripts/airflow installs Airflow into a cached virtualenv): run scripts/test"]
fn the_dag_loads_without_import_errors_and_has_its_tasks() {
    let out = Command::new(root().join("scripts/airflow")).args(["python", "tests/data/dagbag.py", "dags"]).current_dir(root()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let bag: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default()).expect("the DagBag's JSON line");
    assert_eq!(bag["errors"], serde_json::json!({}), "import errors");
    assert_eq!(bag["dags"]["rtds_users"], serde_json::json!(["check", "check_round", "ingest"]));
}

#[test]
#[ignore = "needs PostgreSQL and Python 3 (Airflow is installed by scripts/airflow): run scripts/test"]
fn airflow_runs_the_dag_into_postgres_and_a_failed_expectation_fails_the_run() {
    let _home = RemoveOnDrop(airflow_home());
    let rt = runtime();
    let (api, _) = rt.block_on(rtds::api::server::spawn_local(Default::default())).unwrap();
    let database = rt.block_on(fresh_database("airflow"));
    let count = || -> i64 {
        rt.block_on(async {
            let client = rtds::connectors::postgres::connect(&database).await.unwrap();
            client.query_one("select count(*) from created_users", &[]).await.unwrap().get(0)
        })
    };

    // One round: ingest, the expectations over the table, the round's summary.
    let out = airflow(&["dags", "test", "rtds_users", "-c", r#"{"users": 2000, "batch": 500}"#], &database, &api, true);
    let log = text(&out);
    assert!(out.status.success(), "airflow dags test failed:\n{}", crate::process::tail(&log));
    assert_eq!(count(), 2000, "the users are in PostgreSQL");
    assert!(log.contains(r#""stored": 2000"#), "the round's summary went to XCom:\n{}", crate::process::tail(&log));
    assert!(!log.contains(&database), "the database URL is not in the task logs");
    // Without Connections, the worker's RTDS_POSTGRES and RTDS_API.
    let out = airflow(&["dags", "test", "rtds_users", "-c", r#"{"users": 500, "batch": 500}"#], &database, &api, false);
    assert!(out.status.success(), "airflow dags test (environment only) failed:\n{}", crate::process::tail(&text(&out)));
    assert_eq!(count(), 2500);
    // A shell word in a param is refused by the param's pattern, never run.
    let out = airflow(&["dags", "test", "rtds_users", "-c", r#"{"duration": "1s; touch /tmp/rtds-injected"}"#], &database, &api, true);
    assert!(!out.status.success() && !std::path::Path::new("/tmp/rtds-injected").exists(), "{}", crate::process::tail(&text(&out)));

    // A row that fails a drop-row expectation fails the next run, at the check, after its ingest.
    rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&database).await.unwrap();
        client
            .execute(
                "insert into created_users (id, first_name, last_name, email, dob, registered_date) \
                 values ('00000000-0000-4000-8000-000000000bad', 'No', 'Mail', 'not-an-email', now() - interval '30 years', now() - interval '1 year')",
                &[],
            )
            .await
            .unwrap();
    });
    let out = airflow(&["dags", "test", "rtds_users", "-c", r#"{"users": 500, "batch": 500}"#], &database, &api, true);
    let log = text(&out);
    assert!(!out.status.success(), "the run must fail on a failed expectation:\n{}", crate::process::tail(&log));
    let failed = log.lines().find(|l| l.contains("valid_email") && l.contains("failed")).unwrap_or_default();
    assert!(failed.contains("1 failed") && failed.contains("000000000bad"), "rtds check names the expectation and the row:\n{}", crate::process::tail(&log));
    assert_eq!(count(), 3001, "the round ingested before its check failed");
}
