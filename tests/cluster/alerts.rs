//! Operations, live (issue 28): the stack's Prometheus scrapes a running cluster (the master
//! with its CDC stage) and ingest, every query of the Grafana dashboard answers, and a worker
//! process killed raises `RtdsWorkerProcessDied` in Prometheus and on the status page, which
//! then resolves by itself once the cluster is back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{Pipeline, STATUS_PAGE_ON, kill_pid, stop, wait_durable, wait_for, wait_until};
use crate::process::Running;
use crate::status::{Browser, READ_PAGE};
use crate::util::{required_env, rtds, stack_lock, unique};

fn prometheus() -> String {
    required_env("RTDS_PROMETHEUS", "Prometheus", "scripts/stack up")
}

/// A scrape target for the stack's Prometheus (file service discovery), removed when dropped.
struct Target(PathBuf);

impl Target {
    fn new(job: &str, port: u16, test: &str) -> Target {
        let folder = PathBuf::from(required_env("RTDS_PROMETHEUS_TARGETS", "Prometheus's target folder", "scripts/stack up"));
        let path = folder.join(format!("{job}-{test}.json"));
        let targets = serde_json::json!([{ "targets": [format!("127.0.0.1:{port}")], "labels": { "test": test } }]);
        // Written aside and renamed: Prometheus never reads half a file.
        let partial = path.with_extension("part");
        std::fs::write(&partial, targets.to_string()).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        Target(path)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `GET /api/v1/PATH` of Prometheus: its `data`.
fn api(rt: &tokio::runtime::Runtime, path: &str, query: &[(&str, &str)]) -> Value {
    let url = format!("{}/api/v1/{path}", prometheus());
    rt.block_on(async {
        let answer = reqwest::Client::new().get(&url).query(query).send().await.unwrap().error_for_status().unwrap();
        serde_json::from_str::<Value>(&answer.text().await.unwrap()).unwrap()["data"].clone()
    })
}

/// An instant query's samples.
fn samples(rt: &tokio::runtime::Runtime, expr: &str) -> Vec<Value> {
    api(rt, "query", &[("query", expr)])["result"].as_array().cloned().unwrap_or_default()
}

/// The alerts named `name` of this test's targets, in state `state`.
fn alerts(rt: &tokio::runtime::Runtime, name: &str, test: &str, state: &str) -> usize {
    let data = api(rt, "alerts", &[]);
    let all = data["alerts"].as_array().cloned().unwrap_or_default();
    all.iter().filter(|a| a["labels"]["alertname"] == name && a["labels"]["test"] == test && a["state"] == state).count()
}

/// Whether the master's `/status` and its page in the browser both list `name` as firing.
fn firing_on_status_page(pipeline: &Pipeline, http: u16, browser: &Browser, name: &str) -> (bool, bool) {
    let in_json = pipeline.status(http).is_some_and(|s| s["alerts"]["firing"].as_array().is_some_and(|f| f.iter().any(|a| a["name"] == name)));
    let on_page = browser.script(READ_PAGE)["alerts"]["firing"].as_array().is_some_and(|f| f.iter().any(|a| a == name));
    (in_json, on_page)
}

#[test]
#[ignore = "needs PostgreSQL, Kafka, Cassandra and Prometheus: run scripts/test"]
fn prometheus_sees_the_pipeline_every_dashboard_query_answers_and_a_killed_worker_raises_an_alert_that_resolves() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("alerts");
    let test = unique("alerts");

    // Ingest, slow enough to be scraped while it runs; the master runs the CDC stage.
    let mut command = rtds();
    command
        .args(["ingest", "--api", &pipeline.api, "--postgres", &pipeline.database, "--users", "6000", "--rate", "300", "--batch", "300"])
        .args(["--seed", &pipeline.seed, "--json", "--metrics-addr", "127.0.0.1:0"]);
    let ingest = Running::spawn(command);
    let _ingest_target = Target::new("rtds-ingest", ingest.port_after("metrics on http://"), &test);
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "1", "--http", "127.0.0.1:0", "--cdc", "--postgres", &pipeline.database])
        .args(["--prometheus", &prometheus()])
        .args(pipeline.pipeline_args_idle("10m"));
    let master = Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    let _master_target = Target::new("rtds-master", http, &test);
    let rt = &pipeline.rt;
    let browser = Browser::start();
    browser.goto(&format!("http://127.0.0.1:{http}/"));

    wait_until(Duration::from_secs(60), "Prometheus scrapes the master and ingest", || {
        (samples(rt, &format!("up{{test=\"{test}\"}} == 1")).len() == 2).then_some(())
    });
    wait_durable(&pipeline, http, 2000);

    // Every panel of the dashboard answers (rates need two scrapes, the JVMs' a few seconds).
    let queries = crate::operations::dashboard_queries();
    assert!(queries.len() > 20, "{queries:?}");
    let started = Instant::now();
    for (title, expr) in &queries {
        // An answer with a number: a quantile of no observations is NaN, not a figure.
        let answers = || samples(rt, expr).iter().any(|sample| sample["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(f64::is_finite)).then_some(());
        wait_until(Duration::from_secs(90).saturating_sub(started.elapsed()), &format!("panel {title:?}: {expr} answers with a number"), answers);
    }
    // The status page shows Prometheus's alerts, with the link.
    let status = wait_for(&pipeline, http, |s| s["alerts"]["link"].is_string());
    assert_eq!(status["alerts"]["link"], prometheus().trim_end_matches('/'));
    assert_eq!(status["alerts"]["error"], Value::Null, "{:#}", status["alerts"]);

    // A worker process killed: the cluster restarts, and the alert says so here and on the page.
    let status = wait_for(&pipeline, http, |s| s["cluster"]["processes"][1]["pid"].as_u64().is_some_and(|p| p > 1));
    kill_pid(status["cluster"]["processes"][1]["pid"].as_u64().unwrap());
    wait_until(Duration::from_secs(60), "RtdsWorkerProcessDied fires in Prometheus", || (alerts(rt, "RtdsWorkerProcessDied", &test, "firing") == 1).then_some(()));
    wait_until(Duration::from_secs(30), "/status and the status page show RtdsWorkerProcessDied", || {
        (firing_on_status_page(&pipeline, http, &browser, "RtdsWorkerProcessDied") == (true, true)).then_some(())
    });
    // No other death: a minute later the alert resolves, there and on the page.
    wait_until(Duration::from_secs(150), "RtdsWorkerProcessDied resolves", || {
        (alerts(rt, "RtdsWorkerProcessDied", &test, "firing") + alerts(rt, "RtdsWorkerProcessDied", &test, "pending") == 0).then_some(())
    });
    wait_until(Duration::from_secs(30), "/status and the status page drop the resolved alert", || {
        (firing_on_status_page(&pipeline, http, &browser, "RtdsWorkerProcessDied") == (false, false)).then_some(())
    });
    let status = pipeline.status(http).unwrap();
    assert_eq!(status["cluster"]["restarts"], 1, "one restart, the kill's");

    stop(master);
    crate::process::finish(ingest, "rtds ingest", Duration::from_secs(120));
}
