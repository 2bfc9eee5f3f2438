//! Runs the example binary as a user would.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_twiml-incoming-call"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn prints_the_answer_for_a_base_url() {
    let out = run(&["https://agent.example.com"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Play>"));
    assert!(stdout.contains("<Play>https://agent.example.com/media/greeting.wav</Play>"));
    assert!(stdout.contains("action=\"https://agent.example.com/webhook/handle_recording\""));
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn base_without_scheme_is_one_line_and_exit_code_2() {
    for bad in [
        "agent.example.com",
        "agent.example.com/prefix",
        "ftp://agent.example.com",
        "wss://agent.example.com",
    ] {
        let out = run(&[bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: public base URL: invalid URL"),
            "{stderr}"
        );
    }
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
}
