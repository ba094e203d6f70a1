//! Helpers shared by the test modules.

use std::path::PathBuf;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A captured randomuser.me response from `../shared/fixtures/randomuser/`.
pub fn fixture(name: &str) -> String {
    let path = root().join("../shared/fixtures/randomuser").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("fixture {} is missing ({e}); the tests expect the shared/ folder beside the repository", path.display())
    })
}

/// A hand-written response from `tests/data/`.
pub fn test_data(name: &str) -> String {
    let path = root().join("tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `rtds` binary cargo built for these tests.
pub fn rtds() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_rtds"))
}

/// A fresh empty folder under the target directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("rtds-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tokio runtime for async tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
