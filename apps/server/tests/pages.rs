//! The admin HTML pages (`/calls`, `/calls/{sid}`, `/login`) through `app(state)` with
//! `oneshot`, on a store filled through its own methods.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::store::{CallStatusEvent, Turn};
use kav_server::{AppState, Config, app};
use tower::ServiceExt as _;

const ADMIN: &str = "admin-token-0123456789";
const T0: i64 = 1_700_000_000_000;
const SID: &str = "CA0123456789abcdef0123456789abcdef";

fn event(sid: &str, status: &str, sequence: i64, at_from: &str) -> CallStatusEvent {
    CallStatusEvent {
        call_sid: sid.to_owned(),
        status: status.to_owned(),
        sequence: Some(sequence),
        timestamp: None,
        account_sid: None,
        from: Some(at_from.to_owned()),
        to: Some("+97231234567".to_owned()),
        direction: Some("inbound".to_owned()),
        duration_s: (status == "completed").then_some(30),
        params: Vec::new(),
    }
}

async fn filled(vars: &[(&str, &str)]) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    store
        .record_call_status(&event(SID, "ringing", 0, "+972500000000"), T0)
        .await
        .unwrap();
    store
        .record_call_status(&event(SID, "completed", 1, "+972500000000"), T0 + 60_000)
        .await
        .unwrap();
    for i in 0..3 {
        let sid = format!("CA{i:032x}");
        store
            .record_call_status(
                &event(&sid, "ringing", 0, "+15550001111"),
                T0 - 1000 * (i + 1),
            )
            .await
            .unwrap();
    }
    let recording = store.save_audio(b"RIFF", "audio/wav", T0).await.unwrap();
    let reply = store.save_audio(b"RIFF", "audio/wav", T0).await.unwrap();
    store
        .save_turn(
            &Turn {
                call_sid: SID.to_owned(),
                index: 0,
                transcript: Some("שלום, אני רוצה לקבוע תור <script>alert(1)</script>".to_owned()),
                reply: Some("בשמחה! לאיזה יום?".to_owned()),
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
                call_sid: SID.to_owned(),
                index: 1,
                transcript: Some("ומחר?".to_owned()),
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

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn get(
    state: &AppState,
    uri: &str,
    auth: Option<(&str, String)>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(uri);
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    send(state, request.body(Body::empty()).unwrap()).await
}

fn bearer() -> Option<(&'static str, String)> {
    Some(("authorization", format!("Bearer {ADMIN}")))
}

#[tokio::test]
async fn pages_need_the_token_or_a_login() {
    let (off, _d1) = filled(&[]).await;
    for uri in ["/calls", "/login"] {
        let (status, _, body) = get(&off, uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(body.contains("admin routes are off"));
    }
    let (state, _d2) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    for uri in ["/calls", &format!("/calls/{SID}")] {
        let (status, headers, _) = get(&state, uri, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(headers[header::LOCATION], "/login");
        let forged = Some(("cookie", "kav_admin=99999999999.00ff".to_owned()));
        assert_eq!(get(&state, uri, forged).await.0, StatusCode::SEE_OTHER);
        assert_eq!(get(&state, uri, bearer()).await.0, StatusCode::OK);
    }
    let (status, _, form) = get(&state, "/login", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"type="password""#));
    let login = |token: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let (status, headers, body) = send(&state, login("admin-token-0123456780")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(body.contains("Wrong admin token"));
    let (status, headers, _) = send(&state, login(ADMIN)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/calls");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("kav_admin="), "{cookie}");
    assert!(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Strict"));
    assert!(!cookie.contains(ADMIN));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (status, _, body) = get(
        &state,
        "/calls",
        Some(("cookie", format!("theme=dark; {pair}"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(SID));
    // A cookie signed under another token is refused.
    let (other, _d3) = filled(&[("ADMIN_TOKEN", "another-admin-token-42")]).await;
    assert_eq!(
        get(&other, "/calls", Some(("cookie", pair))).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_list_page_shows_calls_filters_and_paging() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN), ("KAV_LANGUAGE", "he-IL")]).await;
    let (status, headers, body) = get(&state, "/calls", bearer()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert!(body.contains(r#"<html lang="he" dir="auto">"#), "{body}");
    assert!(
        body.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(!body.contains("<script"), "nothing unescaped, no scripts");
    assert!(body.contains("שלום, אני רוצה לקבוע תור &lt;script&gt;"));
    assert!(body.contains(r#"td dir="auto""#) || body.contains(r#"<td dir="auto">"#));
    assert!(body.contains(&format!(r#"href="/calls/{SID}""#)));
    assert!(body.contains("2023-11-14 22:13:20 UTC"));
    assert!(body.contains("30 s") && body.contains("completed") && body.contains("+972500000000"));
    assert!(body.contains(r#"name="number""#) && body.contains(r#"name="status""#));
    assert_eq!(body.matches("<tr>").count(), 1 + 4);
    // Paging: two per page, the next link carries the cursor and the filters.
    let (_, _, first) = get(&state, "/calls?limit=2&number=%2B15550001111", bearer()).await;
    assert_eq!(first.matches("<tr>").count(), 1 + 2);
    let next = first
        .split(r#"href=""#)
        .find(|s| s.starts_with("/calls?") && s.contains("before="))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        next.contains("number=%2B15550001111") && next.contains("limit=2"),
        "{next}"
    );
    let (_, _, second) = get(&state, &next, bearer()).await;
    assert_eq!(second.matches("<tr>").count(), 1 + 1);
    assert!(second.contains("Newest") && !second.contains("Older"));
    let (_, _, filtered) = get(&state, "/calls?status=completed", bearer()).await;
    assert_eq!(filtered.matches("<tr>").count(), 1 + 1);
    assert!(filtered.contains(r#"<option value="completed" selected>"#));
    let (status, _, _) = get(&state, "/calls?from=nope", bearer()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_call_page_shows_the_conversation() {
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    let (status, _, body) = get(&state, &format!("/calls/{SID}"), bearer()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("שלום, אני רוצה לקבוע תור &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!body.contains("<script"));
    assert!(body.contains("בשמחה! לאיזה יום?") && body.contains("ומחר?"));
    // The label is its own paragraph, so `dir="auto"` takes the direction from the text.
    assert!(
        body.contains(r#"<p class="who">Caller</p><p dir="auto">שלום"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<p class="who">Agent</p><p dir="auto">בשמחה"#),
        "{body}"
    );
    assert_eq!(
        body.matches(r#"<audio controls preload="none" src="/media/"#)
            .count(),
        2
    );
    assert!(body.contains("120 ms") && body.contains("340 ms") && body.contains("56 ms"));
    assert!(body.contains("Error: language model timed out"));
    let ringing = body.find("— ringing").unwrap();
    let completed = body.find("— completed").unwrap();
    assert!(ringing < completed, "timeline in order");
    let (status, _, _) = get(&state, "/calls/CA0123", bearer()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = get(&state, &format!("/calls/CA{:032x}", 99), bearer()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("No such call"));
}

#[tokio::test]
async fn the_call_page_plays_the_full_call_recording_and_shows_its_transcript() {
    use common::fakes::{self, ACCOUNT, TOKEN};
    use kav_server::store::RecordingEvent;
    use kav_server::store::transcripts::{CallTranscript, TranscriptSegment};

    const REC: &str = "RE0123456789abcdef0123456789abcdef";
    let wav = fakes::silence_wav(1);
    let host = fakes::recordings_host(wav.clone()).await;
    let (state, _dir) = filled(&[
        ("ADMIN_TOKEN", ADMIN),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("RECORDING_HOSTS", &host.origin),
    ])
    .await;
    let store = state.store();
    let event = |status: &str, url: Option<String>| RecordingEvent {
        recording_sid: REC.to_owned(),
        status: status.to_owned(),
        call_sid: Some(SID.to_owned()),
        recording_url: url,
        duration_s: (status == "completed").then_some(61),
        params: Vec::new(),
    };
    store
        .record_recording_event(&event("in-progress", None), T0)
        .await
        .unwrap();
    // Before the recording completes there is nothing to play.
    let (_, _, body) = get(&state, &format!("/calls/{SID}"), bearer()).await;
    assert!(body.contains("Full-call recording") && body.contains("No transcript yet."));
    assert!(!body.contains("/recordings/"), "{body}");
    store
        .record_recording_event(&event("completed", Some(host.url(REC))), T0 + 61_000)
        .await
        .unwrap();
    let transcript = CallTranscript {
        recording_sid: REC.to_owned(),
        call_sid: Some(SID.to_owned()),
        text: Some("שלום, אני רוצה לקבוע תור. בשמחה! לאיזה יום?".to_owned()),
        segments: vec![
            TranscriptSegment {
                start_ms: 1200,
                end_ms: 3000,
                text: "שלום, אני רוצה לקבוע תור.".to_owned(),
            },
            TranscriptSegment {
                start_ms: 64_000,
                end_ms: 66_000,
                text: "בשמחה! לאיזה יום?".to_owned(),
            },
        ],
        language: Some("he".to_owned()),
        provider: Some("openai".to_owned()),
        stt_ms: Some(800),
        ..CallTranscript::default()
    };
    store
        .save_call_transcript(&transcript, T0 + 70_000)
        .await
        .unwrap();

    let audio = format!("/calls/{SID}/recordings/{REC}");
    let (status, _, body) = get(&state, &format!("/calls/{SID}"), bearer()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(&format!(r#"<audio controls preload="none" src="{audio}">"#)),
        "{body}"
    );
    assert!(body.contains("completed · 61 s"), "{body}");
    assert!(
        body.contains(r#"<span class="muted">[0:01] </span>שלום, אני רוצה לקבוע תור.</p>"#),
        "{body}"
    );
    assert!(body.contains("[1:04] </span>בשמחה! לאיזה יום?"), "{body}");
    assert!(body.contains("800 ms · openai · he"));

    // The player's source: the recording fetched from Twilio with the account's credentials.
    let (status, _, _) = get(&state, &audio, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "admin only");
    let response = app(state.clone())
        .oneshot(
            Request::get(&audio)
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/x-wav");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.as_ref(), wav.as_slice());
    assert_eq!(host.hits(), 1);
    // Players seek with byte ranges.
    let ranged = |range: &'static str| {
        Request::get(&audio)
            .header("authorization", format!("Bearer {ADMIN}"))
            .header(header::RANGE, range)
            .body(Body::empty())
            .unwrap()
    };
    let response = app(state.clone())
        .oneshot(ranged("bytes=0-3"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes 0-3/{}", wav.len()).as_str()
    );
    assert_eq!(response.headers()[header::ACCEPT_RANGES], "bytes");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.as_ref(), b"RIFF");
    let response = app(state.clone())
        .oneshot(ranged("bytes=999999-"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // The same for stored audio.
    let id = store
        .save_audio(b"RIFF0123456789", "audio/wav", T0)
        .await
        .unwrap();
    let response = app(state.clone())
        .oneshot(
            Request::get(format!("/media/{id}"))
                .header(header::RANGE, "bytes=-4")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes 10-13/14");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.as_ref(), b"6789");
    let other = format!("/calls/{SID}/recordings/RE{:032x}", 7);
    assert_eq!(get(&state, &other, bearer()).await.0, StatusCode::NOT_FOUND);
    let bad = format!("/calls/{SID}/recordings/nope");
    assert_eq!(get(&state, &bad, bearer()).await.0, StatusCode::BAD_REQUEST);

    // The same in the call's JSON.
    let (_, _, json) = get(&state, &format!("/api/calls/{SID}"), bearer()).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let recording = &json["recordings"][0];
    assert_eq!(recording["recording_sid"], REC);
    assert_eq!(recording["status"], "completed");
    assert_eq!(recording["audio_url"], audio);
    assert_eq!(
        recording["transcript"]["segments"][1]["text"],
        "בשמחה! לאיזה יום?"
    );
    assert_eq!(recording["transcript"]["provider"], "openai");
}

#[tokio::test]
async fn the_list_shows_mode_and_context_and_links_the_sms_page() {
    use kav_server::store::OutboundCall;
    let (state, _dir) = filled(&[("ADMIN_TOKEN", ADMIN)]).await;
    let call = OutboundCall {
        sid: format!("CA{:032x}", 42),
        status: "queued".to_owned(),
        from: "+97231234567".to_owned(),
        to: "+972501234567".to_owned(),
        context_id: Some("order-42".to_owned()),
        mode: Some("gather".to_owned()),
    };
    state
        .store()
        .record_outbound_call(&call, T0 + 100_000)
        .await
        .unwrap();
    let (_, _, body) = get(&state, "/calls", bearer()).await;
    assert!(
        body.contains(r#"<a href="/calls" aria-current="page">Calls</a>"#),
        "{body}"
    );
    assert!(body.contains(r#"<a href="/sms">SMS</a>"#));
    assert!(body.contains("<th>Mode</th><th>Context</th>"), "{body}");
    assert!(
        body.contains(
            r#"<td dir="auto" data-label="Mode">gather</td><td dir="auto" data-label="Context">order-42</td>"#
        ),
        "{body}"
    );
    let (_, _, page) = get(&state, &format!("/calls/{}", call.sid), bearer()).await;
    assert!(
        page.contains("<th>Mode</th><td dir=\"auto\">gather</td>"),
        "{page}"
    );
    assert!(page.contains("<th>Context</th><td dir=\"auto\">order-42</td>"));
}
