//! `rtds run` (and plain `rtds`): the embedded pipeline.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::dataflow::{Dataflow, Source};
use crate::engine::embedded::{self, EmbeddedOptions, Summary};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Distinct users to generate [default: the dataflow's, 100000].
    #[arg(long)]
    pub users: Option<u64>,
    /// Timely worker threads.
    #[arg(short = 'w', long, default_value_t = 2)]
    pub workers: usize,
    /// Output file for the rows (JSON lines) [default: the dataflow's, rtds-users.jsonl].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Generator seed: the same seed gives the same users [default: the dataflow's].
    #[arg(long)]
    pub seed: Option<String>,
    /// Pipeline definition [default: the built-in dataflows/local.sql].
    #[arg(long)]
    pub dataflow: Option<PathBuf>,
    /// Print the summary as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut dataflow = match &args.dataflow {
        Some(path) => Dataflow::load(path)?,
        None => Dataflow::local(),
    };
    if let Source::Generator(generator) = &mut dataflow.source {
        if let Some(users) = args.users {
            generator.users = users;
        }
        if let Some(seed) = &args.seed {
            generator.seed = seed.clone();
        }
    }
    let options = EmbeddedOptions { dataflow, workers: args.workers, output: args.output, progress: !args.json };
    let summary = embedded::run(options).context("embedded pipeline failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

fn print_summary(s: &Summary) {
    println!("rtds: dataflow {:?} on {} workers, {:.2} s", s.dataflow, s.workers, s.seconds);
    println!("  users in      {:>10}  ({} records, replays included)", s.users, s.records_in);
    println!("  rows out      {:>10}  -> {}", s.rows_out, s.output.display());
    println!("  duplicates    {:>10}  (dropped by dedupe)", s.duplicates_dropped);
    println!("  rejected      {:>10}  -> {}", s.rejected, s.rejected_output.display());
    println!("  rate          {:>10.0}  records/s", s.records_per_second);
    for expectation in s.expectations.iter().filter(|e| e.failed > 0) {
        println!("  expectation   {:>10}  {} ({})", expectation.failed, expectation.name, expectation.on_violation);
    }
    for (name, view) in &s.views {
        println!("  view          {:>10}  rows of {name} -> {}", view.rows, view.path.display());
    }
}
