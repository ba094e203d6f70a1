//! A JSON-lines file shared by all workers of one process.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// Appends one JSON object a line; each worker writes whole batches under the lock.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rtds-doc-{}.jsonl", std::process::id()));
/// let sink = rtds::connectors::JsonlSink::create(&path).unwrap();
/// sink.write_all(&[serde_json::json!({"a": 1}), serde_json::json!({"a": 2})]).unwrap();
/// sink.flush().unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"a\":2}\n");
/// # std::fs::remove_file(path).unwrap();
/// ```
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    writer: Mutex<BufWriter<File>>,
}

impl JsonlSink {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<JsonlSink> {
        let file = File::create(path)?;
        Ok(JsonlSink { path: path.to_path_buf(), writer: Mutex::new(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a batch of values, one line each.
    pub fn write_all<T: Serialize>(&self, values: &[T]) -> std::io::Result<()> {
        let mut writer = self.writer.lock().expect("sink lock");
        for value in values {
            serde_json::to_writer(&mut *writer, value)?;
            writer.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Flushes buffered lines to the file.
    pub fn flush(&self) -> std::io::Result<()> {
        self.writer.lock().expect("sink lock").flush()
    }
}
