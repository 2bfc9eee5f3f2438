//! The fake server records what clients send and answers what it was told to.

use axum::Router;
use axum::routing::post;
use kav_testkit::{FakeServer, Reply};
use serde_json::json;

#[tokio::test]
async fn replies_are_sent_as_scripted_and_requests_recorded() {
    let server =
        FakeServer::replying(Reply::json(429, &json!({"error": "busy"})).with_retry_after("7"))
            .await;
    let http = reqwest::Client::new();
    let answer = http
        .post(server.url("/v1/things?x=1"))
        .header("x-api-key", "k")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "7");
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(answer.text().await.unwrap(), r#"{"error":"busy"}"#);

    let sent = server.only_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/things");
    assert_eq!(sent.query.as_deref(), Some("x=1"));
    assert_eq!(sent.header("x-api-key"), Some("k"));
    assert_eq!(sent.body, b"hello");
    assert_eq!(sent.json_or_null(), serde_json::Value::Null);
}

#[tokio::test]
async fn routers_see_the_body_the_recorder_read() {
    let app = Router::new().route("/echo", post(|body: String| async move { body }));
    let server = FakeServer::router(app).await;
    let http = reqwest::Client::new();
    let echoed = http
        .post(server.url("/echo"))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, r#"{"a":1}"#);
    assert_eq!(server.last_request().json(), json!({"a": 1}));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn multipart_bodies_are_read_back() {
    let server = FakeServer::replying(Reply::raw(200, "{}")).await;
    let form = reqwest::multipart::Form::new().text("model", "m").part(
        "file",
        reqwest::multipart::Part::bytes(vec![1, 2, 3])
            .file_name("a.wav")
            .mime_str("audio/wav")
            .unwrap(),
    );
    reqwest::Client::new()
        .post(server.base())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let fields = server.only_request().multipart().await.unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!((fields[0].name.as_str(), fields[0].text()), ("model", "m"));
    assert_eq!(fields[1].file_name.as_deref(), Some("a.wav"));
    assert_eq!(fields[1].content_type.as_deref(), Some("audio/wav"));
    assert_eq!(fields[1].bytes, [1, 2, 3]);

    let mut not_multipart = server.only_request();
    not_multipart.body = b"garbage".to_vec();
    assert!(not_multipart.multipart().await.is_err());
}
