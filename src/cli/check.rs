//! `rtds check`: validates a dataflow file, and runs its expectations over a PostgreSQL table
//! or a JSON lines file of formatted rows.

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;
use futures::StreamExt;

use crate::dataflow::Dataflow;
use crate::sql::check::Report;
use crate::sql::decode::Decoder;
use crate::sql::expr::Context;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Dataflow file whose expectations are checked [default: the built-in dataflows/users.sql].
    /// Alone, validates it: every error names the file, line and column, and no service is touched.
    #[arg(long)]
    pub dataflow: Option<PathBuf>,
    /// Check the rows of this PostgreSQL table (e.g. created_users).
    #[arg(long, conflicts_with = "file")]
    pub table: Option<String>,
    /// PostgreSQL URL, for --table.
    #[arg(long, env = "RTDS_POSTGRES", default_value = crate::connectors::defaults::POSTGRES)]
    pub postgres: String,
    /// Check the formatted rows of a JSON lines file (what `rtds run` writes).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit status when a drop-row expectation failed or a row could not be read.
pub const EXIT_FAILED: i32 = 1;

pub fn check(args: CheckArgs) -> anyhow::Result<()> {
    let dataflow = match &args.dataflow {
        Some(path) => Dataflow::load(path)?,
        None => Dataflow::users(),
    };
    let program = &dataflow.program;
    let origin = &program.origin;
    if args.table.is_none() && args.file.is_none() {
        let views: Vec<&str> = program.views.iter().map(|v| v.name.as_str()).collect();
        if args.json {
            println!("{}", serde_json::json!({ "dataflow": origin, "valid": true, "expectations": program.table.expectations.len(), "views": views }));
        } else {
            println!(
                "{origin}: valid. Source table {} ({} columns, {} expectations), rows table {}, {} views: {}",
                program.table.name,
                program.table.columns.len(),
                program.table.expectations.len(),
                program.sink_name,
                views.len(),
                views.join(", ")
            );
        }
        return Ok(());
    }
    // NOW() is the check's start: what `rtds check` judges against.
    let cx = Context { today: crate::clock::now().date_naive(), now: Some(crate::clock::now().timestamp_millis()) };
    let table = &program.table;
    let mut report = Report::new(table);
    let key_name = table.columns[table.key].name.clone();
    let source = if let Some(name) = &args.table {
        let runtime = super::runtime()?;
        runtime.block_on(async {
            let client = crate::connectors::postgres::connect(&args.postgres).await?;
            let mut rows = std::pin::pin!(crate::connectors::postgres::read_table(&client, name, table).await?);
            while let Some(row) = rows.next().await {
                let row = row?;
                report.add(table, &row, || row[table.key].to_string(), &cx);
            }
            Ok::<_, anyhow::Error>(())
        })?;
        format!("table {name}")
    } else {
        let path = args.file.as_ref().expect("a file or a table");
        let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let decoder = Decoder::new(table);
        for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<crate::model::User>(&line) {
                Ok(user) => report.add(table, &decoder.row(&user, None), || user.id.to_string(), &cx),
                Err(e) => report.add_unreadable(format!("line {}: {e}", number + 1)),
            }
        }
        format!("file {}", path.display())
    };
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        json["dataflow"] = origin.clone().into();
        json["source"] = source.into();
        json["passed"] = report.passed().into();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{origin}: {} rows of {source} checked", report.rows);
        for e in &report.expectations {
            let examples = if e.examples.is_empty() { String::new() } else { format!("  e.g. {key_name} {}", e.examples.join(", ")) };
            println!("  {:<28} {:<4} {:>10} failed{examples}", e.name, e.on_violation, e.failed);
        }
        if report.unreadable > 0 {
            println!("  {} rows could not be read, e.g. {}", report.unreadable, report.unreadable_examples.join("; "));
        }
        println!("{}", if report.passed() { "passed" } else { "FAILED: a drop-row expectation failed (those rows would go to the dead-letter topic)" });
    }
    if !report.passed() {
        std::process::exit(EXIT_FAILED);
    }
    Ok(())
}
