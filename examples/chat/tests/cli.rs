//! Runs the `chat` binary with the offline scripted responder, and against local stand-ins
//! for an OpenAI-compatible server and Gemini.

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

/// One request as a stand-in server saw it: request line, headers (lower-case names), body.
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Answers one HTTP request with a server-sent-event stream of `events` (each a `data:` line),
/// then closes the connection.
fn one_shot_sse(events: &'static [&'static str]) -> (String, std::thread::JoinHandle<Seen>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((k, v)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut out = String::from(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        );
        for e in events {
            out.push_str(&format!("data: {e}\n\n"));
        }
        stream.write_all(out.as_bytes()).unwrap();
        Seen {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    });
    (base, handle)
}

#[test]
fn a_local_openai_compatible_server_needs_no_key() {
    let (base, server) = one_shot_sse(&[
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"role":"assistant","content":"שלום"},"finish_reason":null}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"content":", מה שלומך?"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let out = chat()
        .args(["שלום", "--provider", "openai", "--base-url"])
        .arg(format!("{base}/v1"))
        .args(["--model", "llama3.2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "שלום, מה שלומך?\n");
    let seen = server.join().unwrap();
    assert_eq!(seen.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(seen.header("authorization"), None, "no key, no header");
    let body = &seen.body;
    assert!(body.contains(r#""model":"llama3.2""#), "{body}");
    assert!(body.contains(r#""stream":true"#), "{body}");
    assert!(
        body.contains(r#"{"role":"user","content":"שלום"}"#),
        "{body}"
    );
}

#[test]
fn gemini_streams_with_the_key_from_the_environment() {
    let (base, server) = one_shot_sse(&[
        r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"index":0}]}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"text":" there!"}]},"finishReason":"STOP","index":0}]}"#,
    ]);
    let out = chat()
        .args(["Hi", "--provider", "gemini", "--base-url", &base])
        .args(["--model", "gemini-2.5-flash", "--language", "Hebrew"])
        .env("GEMINI_API_KEY", "gemini-test-key")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Hello there!\n");
    let seen = server.join().unwrap();
    assert_eq!(
        seen.request_line,
        "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1"
    );
    assert_eq!(seen.header("x-goog-api-key"), Some("gemini-test-key"));
    let body = &seen.body;
    assert!(body.contains(r#""systemInstruction":"#), "{body}");
    assert!(body.contains("Always answer in Hebrew."), "{body}");
    assert!(
        body.contains(r#""contents":[{"role":"user","parts":[{"text":"Hi"}]}]"#),
        "{body}"
    );
}
