//! Runs the `chat` binary with the offline scripted responder.

use std::io::Write;
use std::process::{Command, Stdio};

fn chat() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
    command
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    command
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY");
    command
}

#[test]
fn one_shot_hebrew_question() {
    let out = chat().arg("מה שעות הפתיחה שלכם?").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("אנחנו פתוחים"), "{stdout}");
    assert!(stdout.ends_with('\n'));
}

#[test]
fn interactive_chat_greets_and_answers_each_line() {
    let mut child = chat()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("I want to speak to a human\nלהתראות\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("שלום, הגעתם"));
    assert!(lines[1].contains("representative"));
    assert!(lines[2].contains("goodbye"));
}

#[test]
fn custom_rules_file() {
    let dir = std::env::temp_dir().join(format!("kav-chat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "default = \"?\"\n[[rules]]\nkeywords = [\"פיצה\"]\nreply = \"אין פיצה\"\n",
    )
    .unwrap();
    let out = chat()
        .args(["בא לי פיצה", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "אין פיצה\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn configuration_errors_exit_with_2_and_one_line() {
    let out = chat()
        .args(["hi", "--provider", "openai"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("chat: invalid configuration: OPENAI_API_KEY is not set"),
        "{stderr}"
    );

    let out = chat()
        .args(["hi", "--provider", "gemini"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = chat()
        .args(["hi", "--rules", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn provider_failures_exit_with_1() {
    // Nothing listens on this port: the request fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = chat()
        .args(["hi", "--provider", "openai", "--base-url"])
        .arg(format!("http://127.0.0.1:{port}/v1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("chat: OpenAI: request failed")
    );
}
