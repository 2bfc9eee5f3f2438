//! The `kav-callsim` binary against an agent served here.

use axum::Router;
use axum::http::header;
use axum::routing::post;

const BIN: &str = env!("CARGO_BIN_EXE_kav-callsim");

async fn agent() -> String {
    let twiml = |body: &'static str| {
        post(move || async move { ([(header::CONTENT_TYPE, "text/xml")], body) })
    };
    let app = Router::new()
        .route(
            "/webhook/incoming_call",
            twiml("<Response><Gather input=\"speech dtmf\" action=\"/webhook/gather\"><Say>Hi</Say></Gather></Response>"),
        )
        .route("/webhook/gather", twiml("<Response><Say>Bye</Say><Hangup/></Response>"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn run(args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn call_json_with_a_turn_file() {
    let server = agent().await;
    let dir = std::env::temp_dir().join(format!("callsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let turns = dir.join("turns.txt");
    std::fs::write(&turns, "# one turn\ndigits:42#\n").unwrap();
    let (code, stdout, stderr) = run(&[
        "call",
        "--server",
        &server,
        "--public-url",
        "https://agent.example.com",
        "--auth-token",
        "T",
        "--turns",
        turns.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["ended_by"], "agent-hangup");
    assert_eq!(json["requests"].as_array().unwrap().len(), 2);
    assert_eq!(json["events"][2]["digits"], "42#");

    // The transcript, then a usage error (no scheme in --public-url): exit 2.
    let (code, stdout, _) = run(&[
        "call",
        "--server",
        &server,
        "--public-url",
        "https://agent.example.com",
        "--auth-token",
        "T",
        "--say",
        "hello",
    ])
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("agent says [man en-US]: Hi"), "{stdout}");
    assert!(stdout.contains("caller says: hello"), "{stdout}");
    let (code, _, stderr) = run(&[
        "call",
        "--server",
        &server,
        "--public-url",
        "agent.example.com",
        "--auth-token",
        "T",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid public URL"), "{stderr}");
}

#[tokio::test]
async fn load_summary() {
    let server = agent().await;
    let (code, stdout, stderr) = run(&[
        "load",
        "--server",
        &server,
        "--public-url",
        "https://agent.example.com",
        "--auth-token",
        "T",
        "--say",
        "hello",
        "--calls",
        "6",
        "--concurrency",
        "3",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["calls"], 6);
    assert_eq!(json["calls_with_errors"], 0);
    assert_eq!(json["webhooks"]["incoming_call"]["count"], 6);
    assert_eq!(json["webhooks"]["action"]["count"], 6);
    let p = &json["webhooks"]["action"];
    assert!(p["p50_ms"].as_u64() <= p["p99_ms"].as_u64());
}
