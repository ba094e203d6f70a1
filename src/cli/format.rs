//! `rtds format [FILE]`: one API response in, formatted rows out as JSON lines.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::model::{User, parse_response};

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// The response file; standard input when absent or "-".
    pub file: Option<PathBuf>,
}

/// Prints every good record's row; names each bad record on stderr and fails at the end.
pub fn format(args: FormatArgs) -> anyhow::Result<()> {
    let (origin, text) = match args.file.as_deref() {
        None => ("stdin".to_string(), read_stdin()?),
        Some(path) if path.as_os_str() == "-" => ("stdin".to_string(), read_stdin()?),
        Some(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {origin}"))?;
            (origin, text)
        }
    };
    let response = parse_response(&text).with_context(|| origin.clone())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = 0usize;
    for (index, record) in response.results.iter().enumerate() {
        match User::from_json(record.get()) {
            Ok(user) => {
                serde_json::to_writer(&mut out, &user)?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                bad += 1;
                eprintln!("rtds format: {origin}: record {index}: {e}");
            }
        }
    }
    out.flush()?;
    if bad > 0 {
        bail!("{origin}: {bad} of {} records could not be formatted", response.results.len());
    }
    Ok(())
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read stdin")?;
    Ok(text)
}
