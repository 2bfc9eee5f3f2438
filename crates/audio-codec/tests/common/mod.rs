//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter that has the reference implementations, or `None` when the
/// differential tests are explicitly skipped with `KAV_SKIP_PYTHON_PEERS=1`.
///
/// Panics with instructions when no interpreter can be found.
pub fn python() -> Option<PathBuf> {
    if std::env::var("KAV_SKIP_PYTHON_PEERS").as_deref() == Ok("1") {
        eprintln!("KAV_SKIP_PYTHON_PEERS=1: skipping the Python differential test");
        return None;
    }
    if let Some(p) = std::env::var_os("KAV_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python peer found: set KAV_PYTHON or run scripts/test.sh (which installs {})",
        venv.display()
    );
    Some(venv)
}

/// Runs a peer script from `tests/peer/` with `stdin` as its input and returns its stdout.
pub fn run_peer(python: &PathBuf, script: &str, stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peer")
        .join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut sin = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        sin.write_all(&input).expect("write to peer");
    });
    let out = child.wait_with_output().expect("peer output");
    writer.join().expect("writer thread");
    assert!(
        out.status.success(),
        "peer {script} failed: {:?}",
        out.status
    );
    out.stdout
}
