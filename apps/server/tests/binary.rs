//! The built `kav-server` binary: configuration errors, start-up with embedded defaults, and
//! SIGTERM.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_kav-server");

fn run_with(vars: &[(&str, &str)], dir: &TempDir) -> std::process::Output {
    Command::new(BIN)
        .env_clear()
        .env("KAV_DATA_DIR", dir.path())
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap()
}

#[test]
fn bad_configuration_stops_start_up_with_one_line() {
    let dir = TempDir::new();
    for (vars, expected) in [
        (
            &[("PUBLIC_BASE_URL", "ai.example.com")][..],
            r#"kav-server: configuration error: PUBLIC_BASE_URL: "ai.example.com": it has no scheme; write it as https://host"#,
        ),
        (
            &[("CALL_MODE", "record")][..],
            "kav-server: configuration error: CALL_MODE: record needs a speech-to-text provider",
        ),
        (
            &[("LISTEN_ADDR", "everywhere")][..],
            "kav-server: configuration error: LISTEN_ADDR: ",
        ),
        (
            &[("DATABASE_URL", "mysql://root:hunter2@db/kav")][..],
            "kav-server: configuration error: DATABASE_URL: must start with sqlite:",
        ),
        (
            &[("TWILIO_API_BASE_URL", "http://api.twilio.com")][..],
            "kav-server: configuration error: TWILIO_API_BASE_URL: ",
        ),
        (
            &[("KAV_CONFIG", "/nonexistent/kav.toml")][..],
            "kav-server: configuration error: KAV_CONFIG: cannot read /nonexistent/kav.toml: ",
        ),
    ] {
        let output = run_with(vars, &dir);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{vars:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{vars:?}: {stderr}");
        assert!(!stderr.contains("hunter2"));
        assert!(output.stdout.is_empty());
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn starts_with_defaults_and_stops_on_sigterm() {
    let dir = TempDir::new();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("KAV_DATA_DIR", dir.path())
        .env("RUST_LOG", "info")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no 'listening on' line; saw {seen:#?}"));
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
        seen.push(line);
    };
    let summary = seen.join("\n");
    for expected in [
        "mode: gather",
        "speech-to-text providers: none",
        "text-to-speech providers: none",
        "store: sqlite",
        "public base URL: not set",
        "TWILIO_AUTH_TOKEN is not set: webhooks will be refused (403)",
        "OPENAI_API_KEY is not set",
        // No PATH: no espeak-ng, so the agent speaks with `<Say>`, and says so.
        "espeak-ng is not installed (not on the PATH)",
        "TWILIO_PHONE_NUMBER is not set",
        "full-call recording: off",
        "language model: scripted responder (kav-llm's built-in rules); chosen by KAV_LLM=auto",
    ] {
        assert!(summary.contains(expected), "{expected:?} not in\n{summary}");
    }
    assert!(http_get(&addr, "/health").starts_with("HTTP/1.1 200"));
    assert!(http_get(&addr, "/ready").starts_with("HTTP/1.1 200"));
    assert!(dir.path().join("kav.db").exists());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The reader thread ends when the child's stdout closes.
    let mut rest = Vec::new();
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(10)) {
        rest.push(line);
    }
    let rest = rest.join("\n");
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(rest.contains("background worker started"), "{rest}");
    assert!(rest.contains("background worker stopped"), "{rest}");
    assert!(rest.lines().any(|l| l.ends_with(" stopped")), "{rest}");
}
