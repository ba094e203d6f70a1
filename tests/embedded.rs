//! The embedded pipeline, run as a user runs it: the `rtds` binary with no services.

use std::collections::HashSet;

use serde_json::Value;

use crate::util::rtds;

fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn plain_rtds_runs_the_default_pipeline_and_writes_every_user_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = rtds().current_dir(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for word in ["users in", "rows out", "rejected", "records/s", "users_by_country"] {
        assert!(stdout.contains(word), "summary mentions {word}: {stdout}");
    }
    let rows = read_jsonl(&dir.path().join("rtds-users.jsonl"));
    assert_eq!(rows.len(), 100_000, "the default is 100,000 users");
    let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "no id repeats although 1% of records were replayed");
    assert!(rows.iter().all(|r| r["email"].as_str().unwrap().ends_with("@example.com")));
}

#[test]
fn run_flags_and_json_summary_agree_with_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let dataflow = dir.path().join("bad.sql");
    let local = std::fs::read_to_string(crate::util::root().join("dataflows/local.sql")).unwrap();
    std::fs::write(&dataflow, local.replace("malformed = 0.0", "malformed = 0.05")).unwrap();
    let output = dir.path().join("users.jsonl");
    let out = rtds()
        .args(["run", "--users", "12345", "-w", "3", "--seed", "flags", "--json", "--dataflow"])
        .arg(&dataflow)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = read_jsonl(&output);
    let rejected = read_jsonl(&dir.path().join("users.rejected.jsonl"));
    assert_eq!(summary["workers"], 3);
    assert_eq!(summary["rows_out"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(summary["rejected"].as_u64().unwrap() as usize, rejected.len());
    assert!(!rejected.is_empty(), "5% malformed records are rejected");
    assert!(rejected.iter().all(|r| r["reason"].as_str().unwrap().contains("name: invalid type")));
    // Every generated user ends up either written or rejected, never both, never lost.
    let rejected_ids: HashSet<String> = rejected
        .iter()
        .map(|r| serde_json::from_str::<Value>(r["record"].as_str().unwrap()).unwrap()["login"]["uuid"].as_str().unwrap().to_string())
        .collect();
    let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len());
    assert_eq!(ids.len() + rejected_ids.len(), 12345);
    assert!(rejected_ids.iter().all(|id| !ids.contains(id.as_str())));
    // The views count exactly the rows written, each in its file beside them.
    let view = &summary["views"]["users_by_country"];
    assert_eq!(view["path"].as_str().unwrap(), dir.path().join("users_by_country.jsonl").to_str().unwrap());
    let by_country = read_jsonl(&dir.path().join("users_by_country.jsonl"));
    assert_eq!(view["rows"].as_u64().unwrap() as usize, by_country.len());
    let counted: i64 = by_country.iter().map(|r| r["users"].as_i64().unwrap()).sum();
    assert_eq!(counted as usize, rows.len());
    let france = rows.iter().filter(|r| r["country"] == "France").count() as i64;
    let reported = by_country.iter().find(|r| r["country"] == "France").unwrap()["users"].as_i64().unwrap();
    assert_eq!(reported, france);
}
