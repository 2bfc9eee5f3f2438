//! The admin JSON API (`/api/calls`, `/api/calls/{sid}`) through `app(state)` with `oneshot`,
//! on a store filled through its own methods.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::store::{CallStatusEvent, Turn};
use kav_server::{AppState, Config, app};
use serde_json::Value;
use tower::ServiceExt as _;

const ADMIN: &str = "admin-token-0123456789";
/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

fn sid(i: usize) -> String {
    format!("CA{i:032x}")
}

fn event(i: usize, status: &str, sequence: i64, from: &str) -> CallStatusEvent {
    CallStatusEvent {
        call_sid: sid(i),
        status: status.to_owned(),
        sequence: Some(sequence),
        timestamp: None,
        account_sid: None,
        from: Some(from.to_owned()),
        to: Some("+97231234567".to_owned()),
        direction: Some("inbound".to_owned()),
        duration_s: (status == "completed").then_some(30),
        params: Vec::new(),
    }
}

/// Three calls a day apart (call `i` starts on day `i`), call 0 completed with two turns.
async fn filled(vars: &[(&str, &str)]) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    for i in 0..3 {
        let from = if i == 1 {
            "+972500000001"
        } else {
            "+972500000000"
        };
        let at = T0 + i64::try_from(i).unwrap() * 86_400_000;
        store
            .record_call_status(&event(i, "ringing", 0, from), at)
            .await
            .unwrap();
    }
    store
        .record_call_status(&event(0, "completed", 1, "+972500000000"), T0 + 60_000)
        .await
        .unwrap();
    let recording = store.save_audio(b"RIFF", "audio/wav", T0).await.unwrap();
    let reply = store.save_audio(b"RIFF", "audio/wav", T0).await.unwrap();
    let long = format!("שלום, {}", "מה שלומך ".repeat(20));
    store
        .save_turn(
            &Turn {
                call_sid: sid(0),
                index: 0,
                transcript: Some(long),
                reply: Some("<script>alert(1)</script>".to_owned()),
                recording_ref: Some(recording.to_string()),
                tts_audio_id: Some(reply.to_string()),
                stt_ms: Some(120),
                llm_ms: Some(340),
                tts_ms: Some(56),
                error: None,
            },
            T0 + 5000,
        )
        .await
        .unwrap();
    store
        .save_turn(
            &Turn {
                call_sid: sid(0),
                index: 1,
                transcript: Some("and then?".to_owned()),
                recording_ref: Some("https://api.twilio.com/rec".to_owned()),
                error: Some("language model timed out".to_owned()),
                ..Turn::default()
            },
            T0 + 9000,
        )
        .await
        .unwrap();
    let config = Config::from_vars(vars.iter().copied()).unwrap();
    (AppState::new(config, store), dir)
}

async fn get(state: &AppState, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn json(state: &AppState, uri: &str) -> Value {
    let (status, body) = get(state, uri, Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn sids(list: &Value) -> Vec<String> {
    list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admin_routes_are_off_without_a_token_and_need_it_otherwise() {
    let (off, _d1) = filled(&[]).await;
    let (status, body) = get(&off, "/api/calls", Some(ADMIN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("admin routes are off"), "{body}");
    let (on, _d2) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    for uri in ["/api/calls", &format!("/api/calls/{}", sid(0))] {
        assert_eq!(get(&on, uri, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(&on, uri, Some("admin-token-0123456780")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn the_list_is_newest_first_with_first_words() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    let list = json(&state, "/api/calls").await;
    assert_eq!(sids(&list), [sid(2), sid(1), sid(0)]);
    assert_eq!(list["next_before"], Value::Null);
    let call = &list["calls"][2];
    assert_eq!(call["started_at"], "2023-11-14T22:13:20.000Z");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["from"], "+972500000000");
    assert_eq!(call["to"], "+97231234567");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["duration"], 30);
    assert_eq!(call["mode"], Value::Null);
    assert_eq!(call["context_id"], Value::Null);
    let words = call["first_words"].as_str().unwrap();
    assert!(words.starts_with("שלום, מה שלומך"), "{words}");
    assert!(words.ends_with('…'));
    assert_eq!(words.chars().count(), 81);
    assert_eq!(list["calls"][0]["first_words"], Value::Null);
}

#[tokio::test]
async fn the_list_pages_and_filters() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    let first = json(&state, "/api/calls?limit=2").await;
    assert_eq!(sids(&first), [sid(2), sid(1)]);
    let cursor = first["next_before"].as_str().unwrap().to_owned();
    let rest = json(&state, &format!("/api/calls?limit=2&before={cursor}")).await;
    assert_eq!(sids(&rest), [sid(0)]);
    assert_eq!(rest["next_before"], Value::Null);
    let page = json(&state, "/api/calls?limit=2&page=1").await;
    assert_eq!(page["next_page"], 2);
    let page2 = json(&state, "/api/calls?limit=2&page=2").await;
    assert_eq!(sids(&page2), [sid(0)]);
    assert_eq!(page2["next_page"], Value::Null);
    let by_number = json(&state, "/api/calls?number=%2B972500000001").await;
    assert_eq!(sids(&by_number), [sid(1)]);
    let by_to = json(&state, "/api/calls?number=%2B97231234567").await;
    assert_eq!(sids(&by_to).len(), 3);
    let by_status = json(&state, "/api/calls?status=completed").await;
    assert_eq!(sids(&by_status), [sid(0)]);
    // Dates: call 1 is on 2023-11-15 (UTC); `to` includes its whole day.
    let day = json(&state, "/api/calls?from=2023-11-15&to=2023-11-15").await;
    assert_eq!(sids(&day), [sid(1)]);
    let rfc = json(
        &state,
        "/api/calls?from=2023-11-15T00:13:20%2B02:00&to=2023-11-15T22:13:20Z",
    )
    .await;
    assert_eq!(sids(&rfc), [sid(0)]);
    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "page=0",
        "before=nonsense",
        "from=yesterday",
        "to=2023-02-30",
        "status=happy",
        "page=1&before=1_CA00000000000000000000000000000000",
    ] {
        let (status, body) = get(&state, &format!("/api/calls?{bad}"), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].is_string(), "{bad}: {body}");
    }
    assert_eq!(sids(&json(&state, "/api/calls?limit=200").await).len(), 3);
}

#[tokio::test]
async fn one_call_has_its_timeline_and_turns() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    let call = json(&state, &format!("/api/calls/{}", sid(0))).await;
    assert_eq!(call["sid"], sid(0));
    assert_eq!(call["status"], "completed");
    let timeline: Vec<(&str, &str)> = call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_str().unwrap(), e["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        timeline,
        [
            ("ringing", "2023-11-14T22:13:20.000Z"),
            ("completed", "2023-11-14T22:14:20.000Z")
        ]
    );
    let turns = call["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns[0]["transcript"].as_str().unwrap().starts_with("שלום"));
    assert_eq!(turns[0]["reply"], "<script>alert(1)</script>");
    let recording = turns[0]["recording_url"].as_str().unwrap();
    let reply_audio = turns[0]["reply_audio_url"].as_str().unwrap();
    assert!(recording.starts_with("/media/") && reply_audio.starts_with("/media/"));
    assert_ne!(recording, reply_audio);
    // The media URLs serve the stored audio.
    let (status, body) = get(&state, recording, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "RIFF"));
    assert_eq!(turns[0]["timings_ms"]["stt"], 120);
    assert_eq!(turns[0]["timings_ms"]["llm"], 340);
    assert_eq!(turns[0]["timings_ms"]["tts"], 56);
    assert_eq!(turns[0]["error"], Value::Null);
    // A recording kept at Twilio is not an audio id: no media URL.
    assert_eq!(turns[1]["recording_url"], Value::Null);
    assert_eq!(turns[1]["reply_audio_url"], Value::Null);
    assert_eq!(turns[1]["error"], "language model timed out");
}

#[tokio::test]
async fn malformed_and_unknown_sids() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    for bad in ["nope", "CA0123", "CAzz000000000000000000000000000000"] {
        let (status, _) = get(&state, &format!("/api/calls/{bad}"), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, body) = get(&state, &format!("/api/calls/{}", sid(99)), Some(ADMIN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no such call"));
}
