//! The language model from the configuration (`KAV_LLM`): a gather-mode turn answered by
//! kav-llm's OpenAI provider against a local fake chat completions server.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::config::LlmChoice;
use kav_server::{Agent, AppState, Config, app, startup_summary};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123456789";
const BASE: &str = "https://agent.example.com";
const SID: &str = "CA0123456789abcdef0123456789abcdef";
const ANSWER: &str = "אנחנו פתוחים מתשע בבוקר עד חמש אחר הצהריים.";

#[derive(Clone, Default)]
struct FakeChat {
    fail: bool,
    /// The reply instead of [`ANSWER`].
    answer: Arc<Mutex<Option<String>>>,
    /// Every request body, when authorized.
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn completions(
    State(fake): State<FakeChat>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .is_none_or(|v| v != "Bearer sk-test")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    fake.requests.lock().unwrap().push(body.clone());
    if fake.fail {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({
                "error": {"message": "boom", "type": "server_error", "param": null, "code": null}
            })),
        )
            .into_response();
    }
    let answer = fake
        .answer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| ANSWER.to_owned());
    axum::Json(serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_763_790_000,
        "model": body["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
    }))
    .into_response()
}

async fn fake_openai(fail: bool) -> (String, FakeChat) {
    let fake = FakeChat {
        fail,
        ..FakeChat::default()
    };
    let router = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, fake)
}

async fn state(openai: &str) -> (AppState, TempDir) {
    state_with(openai, &[]).await
}

async fn state_with(openai: &str, extra: &[(&str, &str)]) -> (AppState, TempDir) {
    let mut vars = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("CALL_MODE", "gather"),
        ("KAV_TTS", "off"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", openai),
        ("KAV_LLM_MODEL", "gpt-test-mini"),
    ];
    vars.extend_from_slice(extra);
    let config = Config::from_vars(vars).unwrap();
    assert_eq!(config.llm(), LlmChoice::OpenAi);
    let (store, dir) = sqlite_store().await;
    let agent = Agent::from_config(&config);
    (AppState::with_agent(config, store, agent), dir)
}

fn speech(text: &str) -> Request<Body> {
    let params = [("CallSid", SID), ("SpeechResult", text)];
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}/webhook/gather"), &params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post("/webhook/gather")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body))
        .unwrap()
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_gather_turn_is_answered_by_openai() {
    let (openai, fake) = fake_openai(false).await;
    let (state, _dir) = state(&openai).await;
    let (status, body) = send(&state, speech("מה שעות הפתיחה שלכם?")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(ANSWER), "{body}");
    assert!(body.contains("<Gather"), "{body}");

    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["model"], "gpt-test-mini");
    let messages = requests[0]["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(
        messages[0]["content"],
        format!(
            "{}\n\n{}",
            kav_server::config::DEFAULT_SYSTEM_PROMPT,
            kav_server::agent::END_CALL_INSTRUCTION
        )
    );
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"], "מה שעות הפתיחה שלכם?");

    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].reply.as_deref(), Some(ANSWER));
    assert!(turns[0].error.is_none() && turns[0].llm_ms.is_some());

    // The next turn carries the first one as history.
    send(&state, speech("ותודה")).await;
    let requests = fake.requests.lock().unwrap().clone();
    let messages = requests[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(messages[2]["content"], ANSWER);

    let (info, _) = startup_summary(state.config(), state.store());
    assert!(
        info.iter()
            .any(|l| l.starts_with("language model: openai (gpt-test-mini at http://127.0.0.1:")),
        "{info:?}"
    );
}

#[tokio::test]
async fn a_failing_model_gives_the_fallback_once() {
    let (openai, fake) = fake_openai(true).await;
    let (state, _dir) = state(&openai).await;
    let (status, body) = send(&state, speech("hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body.matches(kav_server::config::DEFAULT_FALLBACK).count(),
        1,
        "{body}"
    );
    assert!(!body.contains("boom"), "{body}");
    assert!(body.contains("<Gather"), "{body}");
    assert!(!fake.requests.lock().unwrap().is_empty());
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 1);
    assert!(turns[0].reply.is_none(), "{turns:?}");
    assert!(
        turns[0].error.as_deref().unwrap().starts_with("llm: "),
        "{turns:?}"
    );
    assert!(!turns[0].error.as_deref().unwrap().contains("sk-test"));
}

#[test]
fn the_model_is_chosen_and_checked_from_the_configuration() {
    let choice = |vars: &[(&str, &str)]| Config::from_vars(vars.to_vec()).map(|c| c.llm());
    assert_eq!(choice(&[]).unwrap(), LlmChoice::Scripted);
    assert_eq!(
        choice(&[("GEMINI_API_KEY", "g"), ("OPENAI_API_KEY", "o")]).unwrap(),
        LlmChoice::OpenAi
    );
    assert_eq!(
        choice(&[("GEMINI_API_KEY", "g")]).unwrap(),
        LlmChoice::Gemini
    );
    assert_eq!(
        choice(&[("OPENAI_API_KEY", "o"), ("KAV_LLM", "scripted")]).unwrap(),
        LlmChoice::Scripted
    );
    for (vars, expected) in [
        (&[("KAV_LLM", "claude")][..], "KAV_LLM"),
        (&[("KAV_LLM", "gemini")][..], "GEMINI_API_KEY"),
        (&[("KAV_LLM", "openai")][..], "OPENAI_API_KEY"),
        (&[("KAV_LLM_MODEL", "gpt 4o")][..], "KAV_LLM_MODEL"),
        (
            &[("GEMINI_BASE_URL", "http://example.com")][..],
            "GEMINI_BASE_URL",
        ),
        (
            &[("KAV_RULES_FILE", "/nonexistent/rules.toml")][..],
            "KAV_RULES_FILE",
        ),
        (&[("KAV_SYSTEM_PROMPT", "a\u{7}b")][..], "KAV_SYSTEM_PROMPT"),
    ] {
        let message = Config::from_vars(vars.to_vec()).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[tokio::test]
async fn a_rules_file_drives_the_scripted_responder() {
    let dir = TempDir::new();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "default = \"Sorry?\"\n[[rules]]\nname = \"hours\"\nkeywords = [\"hours\"]\nreply = \"Nine to five.\"\n",
    )
    .unwrap();
    let config = Config::from_vars([
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("KAV_TTS", "off"),
        ("KAV_RULES_FILE", rules.to_str().unwrap()),
    ])
    .unwrap();
    let (store, _db) = sqlite_store().await;
    let agent = Agent::from_config(&config);
    let state = AppState::with_agent(config, store, agent);
    let (_, body) = send(&state, speech("what are your hours")).await;
    assert!(body.contains("Nine to five."), "{body}");
    let (info, _) = startup_summary(state.config(), state.store());
    assert!(info.iter().any(|l| l.contains("rules from")), "{info:?}");
}

#[tokio::test]
async fn a_gather_turn_is_answered_by_gemini() {
    let seen: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let log = seen.clone();
    let router = Router::new().route(
        "/v1beta/models/{call}",
        post(
            move |axum::extract::Path(call): axum::extract::Path<String>,
                  headers: HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let log = log.clone();
                async move {
                    if headers.get("x-goog-api-key").is_none_or(|v| v != "g-test") {
                        return StatusCode::FORBIDDEN.into_response();
                    }
                    log.lock().unwrap().push((call, body));
                    axum::Json(serde_json::json!({
                        "candidates": [{
                            "content": {"parts": [{"text": ANSWER}], "role": "model"},
                            "finishReason": "STOP",
                            "index": 0
                        }],
                        "usageMetadata": {
                            "promptTokenCount": 40,
                            "candidatesTokenCount": 12,
                            "totalTokenCount": 52
                        },
                        "modelVersion": "gemini-test"
                    }))
                    .into_response()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gemini = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let config = Config::from_vars([
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("KAV_TTS", "off"),
        ("GEMINI_API_KEY", "g-test"),
        ("GEMINI_BASE_URL", gemini.as_str()),
        ("KAV_LLM_MODEL", "gemini-test"),
        ("KAV_SYSTEM_PROMPT", "Answer in one sentence."),
    ])
    .unwrap();
    assert_eq!(config.llm(), LlmChoice::Gemini);
    let (store, _db) = sqlite_store().await;
    let agent = Agent::from_config(&config);
    let state = AppState::with_agent(config, store, agent);
    let (status, body) = send(&state, speech("מה שעות הפתיחה שלכם?")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(ANSWER), "{body}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "gemini-test:generateContent");
    assert!(
        seen[0].1.to_string().contains("Answer in one sentence."),
        "{}",
        seen[0].1
    );
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns[0].reply.as_deref(), Some(ANSWER));
    let (info, _) = startup_summary(state.config(), state.store());
    assert!(
        info.iter().any(|l| l
            == "language model: gemini (gemini-test); chosen by KAV_LLM=auto: \
                 GEMINI_API_KEY is set, OPENAI_API_KEY is not"),
        "{info:?}"
    );
}

#[tokio::test]
async fn auto_picks_openai_when_its_key_is_set() {
    let (openai, fake) = fake_openai(false).await;
    let (state, _dir) = state_with(&openai, &[("KAV_LLM", "auto")]).await;
    assert_eq!(state.config().llm(), LlmChoice::OpenAi);
    let (status, body) = send(&state, speech("מה שעות הפתיחה שלכם?")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(ANSWER), "{body}");
    assert!(body.contains("<Gather"), "{body}");
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
    let (info, _) = startup_summary(state.config(), state.store());
    assert!(
        info.iter().any(
            |l| l.starts_with("language model: openai (gpt-test-mini at ")
                && l.ends_with("; chosen by KAV_LLM=auto: OPENAI_API_KEY is set")
        ),
        "{info:?}"
    );
    // Without any key, auto is the scripted responder, and says why.
    let config = Config::from_vars([("KAV_LLM", "auto"), ("KAV_TTS", "off")]).unwrap();
    let (store, _db) = sqlite_store().await;
    let (info, _) = startup_summary(&config, &store);
    assert!(
        info.iter()
            .any(|l| l.starts_with("language model: scripted responder")
                && l.ends_with("neither OPENAI_API_KEY nor GEMINI_API_KEY is set")),
        "{info:?}"
    );
}

#[tokio::test]
async fn a_reply_with_the_end_call_marker_says_goodbye_and_hangs_up() {
    let (openai, fake) = fake_openai(false).await;
    *fake.answer.lock().unwrap() = Some("תודה שהתקשרתם, להתראות! [END_CALL]".to_owned());
    let (state, _dir) = state(&openai).await;
    let (status, body) = send(&state, speech("זהו, תודה")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("תודה שהתקשרתם, להתראות!</Say>"), "{body}");
    assert!(!body.contains("END_CALL"), "{body}");
    assert!(body.ends_with("<Hangup/></Response>"), "{body}");
    assert!(!body.contains("<Gather"), "{body}");
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns[0].reply.as_deref(), Some("תודה שהתקשרתם, להתראות!"));
    // The marker alone: the call ends without more words.
    *fake.answer.lock().unwrap() = Some(" [END_CALL] ".to_owned());
    let (status, body) = send(&state, speech("ביי")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(
        (turns[1].reply.as_deref(), turns[1].error.as_deref()),
        (None, None)
    );
}
