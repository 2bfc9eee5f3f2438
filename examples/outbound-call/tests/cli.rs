//! Runs the `outbound-call` binary with credentials against a local stand-in for Twilio's
//! `Calls.json`: the call is placed (one request, as the README says) and Twilio's answer or
//! error is printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread::JoinHandle;

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "very-secret-token";

/// One request as the stand-in saw it.
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers exactly one HTTP request with `status` and the JSON `body`, then stops.
fn one_shot_server(status: &'static str, body: String) -> (String, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut raw = vec![0; len];
        reader.read_exact(&mut raw).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        stream.flush().unwrap();
        Seen {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(raw).unwrap(),
        }
    });
    (base, handle)
}

fn run(base: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outbound-call"))
        .args([
            "--to",
            "+14155550100",
            "--twiml",
            "<Response><Say>Hello from kav</Say></Response>",
            "--base-url",
            base,
        ])
        .env("TWILIO_ACCOUNT_SID", AC)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_PHONE_NUMBER", "+14155550199")
        .output()
        .unwrap()
}

#[test]
fn with_credentials_it_places_the_call() {
    let answer = call_resource("CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "queued");
    let (base, server) = one_shot_server("201 Created", answer);
    let out = run(&base);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "call CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is queued"
    );
    let seen = server.join().unwrap();
    assert_eq!(
        seen.request_line,
        format!("POST /2010-04-01/Accounts/{AC}/Calls.json HTTP/1.1")
    );
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let basic = seen
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .expect("Basic auth");
    assert_eq!(basic, base64_of(&format!("{AC}:{TOKEN}")));
    assert_eq!(
        seen.body,
        "To=%2B14155550100&From=%2B14155550199&Twiml=%3CResponse%3E%3CSay%3EHello+from+kav%3C%2FSay%3E%3C%2FResponse%3E"
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

#[test]
fn a_twilio_error_prints_its_code_and_message() {
    let body = r#"{"code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
    let (base, server) = one_shot_server("400 Bad Request", body.to_owned());
    let out = run(&base);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Twilio error 21211 (HTTP 400): The 'To' number +14155550100 is not a valid phone number."),
        "{stderr}"
    );
    let seen = server.join().unwrap();
    assert!(seen.request_line.starts_with("POST "));
}

/// A `call` resource shaped like the `create` example of Twilio's OpenAPI document.
fn call_resource(sid: &str, status: &str) -> String {
    format!(
        r#"{{"account_sid": "{AC}", "answered_by": null, "api_version": "2010-04-01", "caller_name": null, "date_created": null, "date_updated": null, "direction": "outbound-api", "duration": null, "end_time": null, "forwarded_from": null, "from": "+14155550199", "from_formatted": "(415) 555-0199", "group_sid": null, "parent_call_sid": null, "phone_number_sid": "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "price": null, "price_unit": "USD", "sid": "{sid}", "start_time": null, "status": "{status}", "subresource_uris": {{}}, "to": "+14155550100", "to_formatted": "(415) 555-0100", "trunk_sid": null, "uri": "/2010-04-01/Accounts/{AC}/Calls/{sid}.json", "queue_time": "0"}}"#
    )
}

/// Standard base64 (the test's own encoder, independent of the client's).
fn base64_of(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
