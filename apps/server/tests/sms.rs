//! SMS: the signed `POST /webhook/sms` (stored once, answered with Messaging TwiML or an empty
//! `<Response/>`), delivery statuses, and the threads in `GET /api/sms`, `GET /sms` and
//! `GET /sms/{number}`; through `app(state)` with `oneshot`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{PgSchema, TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_llm::{
    BoxError, ChatModel, Error as LlmError, FinishReason, Message, Provider, Reply, Role,
    ScriptedResponder, TokenStream,
};
use kav_server::store::sms::{InboundSms, SmsDelivery};
use kav_server::store::{OutboundSms, Store};
use kav_server::{Agent, AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use kav_twiml::messaging::MessagingResponse;
use serde_json::Value;
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
const BASE: &str = "https://agent.example.com";
const OURS: &str = "+97231234567";
const CUSTOMER: &str = "+972501234567";
const EMPTY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

fn sid(n: u32) -> String {
    format!("SM{n:032x}")
}

/// How the fake model behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Answer,
    Fail,
    Hang,
}

/// A model that answers `echo: {last message}`, fails or hangs; counts calls and keeps what
/// it was sent.
struct Fake {
    behaviour: Behaviour,
    calls: AtomicUsize,
    seen: Mutex<Vec<Vec<Message>>>,
}

impl Fake {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour,
            calls: AtomicUsize::new(0),
            seen: Mutex::default(),
        })
    }
}

impl ChatModel for Fake {
    fn provider(&self) -> Provider {
        Provider::OpenAi
    }

    fn reply<'a>(
        &'a self,
        messages: &'a [Message],
    ) -> futures_util::future::BoxFuture<'a, Result<Reply, LlmError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(messages.to_vec());
        Box::pin(async move {
            match self.behaviour {
                Behaviour::Answer => {
                    let last = &messages.last().unwrap().content;
                    Ok(Reply::new(format!("echo: {last}"), FinishReason::Stop))
                }
                Behaviour::Hang => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                Behaviour::Fail => Err(LlmError::Transport {
                    provider: Provider::OpenAi,
                    source: BoxError::from("connection refused"),
                }),
            }
        })
    }

    fn reply_stream<'a>(&'a self, _messages: &'a [Message]) -> TokenStream<'a> {
        Box::pin(futures_util::stream::empty())
    }
}

async fn state_with(vars: &[(&str, &str)], chat: Arc<dyn ChatModel>) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    let mut all = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("TWILIO_PHONE_NUMBER", OURS),
        ("ADMIN_TOKEN", ADMIN),
        ("KAV_TTS", "off"),
    ];
    all.extend_from_slice(vars);
    let config = Config::from_vars(all).unwrap();
    let agent = Agent::new(chat, None);
    (AppState::with_agent(config, store, agent), dir)
}

fn signed(path: &str, params: &[(&str, &str)]) -> Request<Body> {
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path}"), params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post(path)
        .header(header::HOST, "internal:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body))
        .unwrap()
}

fn inbound(sid: &str, from: &str, body: &str) -> Request<Body> {
    signed(
        "/webhook/sms",
        &[
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("From", from),
            ("To", OURS),
            ("Body", body),
            ("NumMedia", "0"),
        ],
    )
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// The text of the reply's only `<Message>`, checked to be Messaging TwiML.
fn reply_text(xml: &str) -> String {
    let doc = MessagingResponse::parse(xml).unwrap();
    assert_eq!(doc.verbs().len(), 1, "{xml}");
    let kav_twiml::messaging::Verb::Message(message) = &doc.verbs()[0] else {
        panic!("not a <Message>: {xml}")
    };
    message.body.clone().unwrap()
}

#[tokio::test]
async fn an_inbound_sms_is_stored_once_and_answered_by_the_agent() {
    let model = Fake::new(Behaviour::Answer);
    let (state, _dir) = state_with(&[], model.clone()).await;
    let (status, content_type, xml) =
        send(&state, inbound(&sid(1), CUSTOMER, "שלום, מתי אתם פתוחים?")).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert_eq!(reply_text(&xml), "echo: שלום, מתי אתם פתוחים?");
    let stored = state.store().sms_message(&sid(1)).await.unwrap().unwrap();
    assert_eq!(stored.direction, "inbound");
    assert_eq!(stored.from.as_deref(), Some(CUSTOMER));
    assert_eq!(stored.to.as_deref(), Some(OURS));
    assert_eq!(stored.body.as_deref(), Some("שלום, מתי אתם פתוחים?"));
    assert_eq!(stored.reply.as_deref(), Some("echo: שלום, מתי אתם פתוחים?"));
    assert_eq!(stored.reply_error, None);

    // Twilio retries: the same answer, no second row, the model is not asked again.
    let (status, _, again) =
        send(&state, inbound(&sid(1), CUSTOMER, "שלום, מתי אתם פתוחים?")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, xml);
    assert_eq!(model.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        state.store().sms_thread(CUSTOMER, 10).await.unwrap().len(),
        1
    );

    // The next message is answered knowing the thread.
    let (_, _, xml) = send(&state, inbound(&sid(2), CUSTOMER, "ומחר?")).await;
    assert_eq!(reply_text(&xml), "echo: ומחר?");
    let seen = model.seen.lock().unwrap().last().unwrap().clone();
    let roles: Vec<(Role, &str)> = seen.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(roles[0].0, Role::System);
    assert_eq!(
        roles[1..],
        [
            (Role::User, "שלום, מתי אתם פתוחים?"),
            (Role::Assistant, "echo: שלום, מתי אתם פתוחים?"),
            (Role::User, "ומחר?"),
        ]
    );
}

#[tokio::test]
async fn the_builtin_responder_answers_in_hebrew() {
    let (state, _dir) = state_with(&[], Arc::new(ScriptedResponder::builtin())).await;
    let (status, _, xml) = send(&state, inbound(&sid(3), CUSTOMER, "מה שעות הפתיחה שלכם?")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(reply_text(&xml).contains("פתוחים"), "{xml}");
}

#[tokio::test]
async fn no_reply_when_off_failing_hanging_empty_or_from_ourselves() {
    let off = Fake::new(Behaviour::Answer);
    let (state, _dir) = state_with(&[("KAV_SMS_REPLY", "false")], off.clone()).await;
    let (status, _, xml) = send(&state, inbound(&sid(1), CUSTOMER, "hello")).await;
    assert_eq!((status, xml.as_str()), (StatusCode::OK, EMPTY));
    assert_eq!(off.calls.load(Ordering::SeqCst), 0);
    let stored = state.store().sms_message(&sid(1)).await.unwrap().unwrap();
    assert_eq!(stored.body.as_deref(), Some("hello"));
    assert!(stored.reply_error.unwrap().contains("KAV_SMS_REPLY"));

    for (behaviour, why) in [
        (Behaviour::Fail, "llm: "),
        (Behaviour::Hang, "llm: timed out"),
    ] {
        let model = Fake::new(behaviour);
        let (state, _dir) = state_with(&[("KAV_TURN_TIMEOUT_SECS", "1")], model.clone()).await;
        let (status, _, xml) = send(&state, inbound(&sid(1), CUSTOMER, "hello")).await;
        assert_eq!((status, xml.as_str()), (StatusCode::OK, EMPTY));
        let stored = state.store().sms_message(&sid(1)).await.unwrap().unwrap();
        assert!(stored.reply_error.unwrap().starts_with(why));
        assert_eq!(stored.reply, None);
        // A replay is not answered either, and the model is not asked again.
        let (status, _, xml) = send(&state, inbound(&sid(1), CUSTOMER, "hello")).await;
        assert_eq!((status, xml.as_str()), (StatusCode::OK, EMPTY));
        assert_eq!(model.calls.load(Ordering::SeqCst), 1);
    }

    let model = Fake::new(Behaviour::Answer);
    let (state, _dir) = state_with(&[], model.clone()).await;
    for (n, from, body) in [(5, CUSTOMER, "  "), (6, OURS, "loop?")] {
        let (status, _, xml) = send(&state, inbound(&sid(n), from, body)).await;
        assert_eq!(
            (status, xml.as_str()),
            (StatusCode::OK, EMPTY),
            "{from} {body:?}"
        );
    }
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_unsigned_and_get_requests_are_refused() {
    let model = Fake::new(Behaviour::Answer);
    let (state, _dir) = state_with(&[], model.clone()).await;
    let long = "א".repeat(1601);
    for params in [
        vec![("From", CUSTOMER), ("To", OURS), ("Body", "x")],
        vec![("MessageSid", "SM1"), ("From", CUSTOMER), ("To", OURS)],
        vec![("MessageSid", &*sid(9)), ("To", OURS), ("Body", "x")],
        vec![
            ("MessageSid", &*sid(9)),
            ("From", "<b>hi</b>"),
            ("To", OURS),
        ],
        vec![
            ("MessageSid", &*sid(9)),
            ("From", CUSTOMER),
            ("To", OURS),
            ("Body", &*long),
        ],
    ] {
        let (status, _, _) = send(&state, signed("/webhook/sms", &params)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}");
    }
    assert!(state.store().sms_message(&sid(9)).await.unwrap().is_none());
    let mut unsigned = inbound(&sid(9), CUSTOMER, "hi");
    unsigned.headers_mut().remove("X-Twilio-Signature");
    assert_eq!(send(&state, unsigned).await.0, StatusCode::FORBIDDEN);
    let get = Request::get("/webhook/sms").body(Body::empty()).unwrap();
    assert_eq!(send(&state, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn delivery_statuses_keep_the_latest_and_the_error_code() {
    let (state, _dir) = state_with(&[], Fake::new(Behaviour::Answer)).await;
    let status = |s: &'static str, extra: &'static [(&'static str, &'static str)]| {
        let sid = sid(7);
        let mut params = vec![
            ("MessageSid".to_owned(), sid),
            ("MessageStatus".to_owned(), s.to_owned()),
            ("From".to_owned(), OURS.to_owned()),
            ("To".to_owned(), CUSTOMER.to_owned()),
        ];
        params.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        signed("/webhook/sms_status", &pairs)
    };
    for (s, extra) in [
        ("sent", &[][..]),
        ("undelivered", &[("ErrorCode", "30003")][..]),
        ("sent", &[][..]),
    ] {
        assert_eq!(send(&state, status(s, extra)).await.0, StatusCode::OK);
    }
    let row = state.store().sms_message(&sid(7)).await.unwrap().unwrap();
    assert_eq!(
        row.status.as_deref(),
        Some("undelivered"),
        "a late `sent` is ignored"
    );
    assert_eq!(row.error_code.as_deref(), Some("30003"));
    assert_eq!(row.to.as_deref(), Some(CUSTOMER));
    assert_eq!(row.direction, "outbound-api");
    assert_eq!(row.peer(), Some(CUSTOMER));
}

/// Two threads: the customer's (an inbound message answered, an API message delivered, a
/// later inbound one) and another number's older one.
async fn fill(store: &Store) {
    let inbound = |n: u32, from: &str, body: &str| InboundSms {
        sid: sid(n),
        from: from.to_owned(),
        to: OURS.to_owned(),
        body: body.to_owned(),
    };
    let t0 = 1_700_000_000_000;
    store
        .record_inbound_sms(&inbound(10, "+15550001111", "hello <b>there</b>"), t0)
        .await
        .unwrap();
    store
        .record_inbound_sms(&inbound(11, CUSTOMER, "שלום, מתי אתם פתוחים?"), t0 + 1000)
        .await
        .unwrap();
    store
        .set_sms_reply(&sid(11), Ok("אנחנו פתוחים 9 עד 17"), t0 + 1500)
        .await
        .unwrap();
    let outbound = OutboundSms {
        sid: sid(12),
        status: "queued".to_owned(),
        from: OURS.to_owned(),
        to: CUSTOMER.to_owned(),
        body: "ההזמנה שלך מוכנה".to_owned(),
        context_id: Some("order-42".to_owned()),
    };
    store
        .record_outbound_sms(&outbound, t0 + 2000)
        .await
        .unwrap();
    let delivered = SmsDelivery {
        sid: sid(12),
        status: "delivered".to_owned(),
        from: None,
        to: None,
        error_code: None,
    };
    store
        .record_sms_delivery(&delivered, t0 + 2500)
        .await
        .unwrap();
    store
        .record_inbound_sms(&inbound(13, CUSTOMER, "תודה!"), t0 + 3000)
        .await
        .unwrap();
    store
        .set_sms_reply(&sid(13), Err("llm: timed out"), t0 + 3500)
        .await
        .unwrap();
}

async fn threads_are_listed(store: &Store) {
    let threads = store.sms_threads(None, 10, 0).await.unwrap();
    let summary: Vec<(&str, &str, i64)> = threads
        .iter()
        .map(|t| (t.number.as_str(), t.last.sid.as_str(), t.count))
        .collect();
    assert_eq!(
        summary,
        [
            (CUSTOMER, sid(13).as_str(), 3),
            ("+15550001111", sid(10).as_str(), 1)
        ]
    );
    assert_eq!(store.sms_threads(None, 1, 1).await.unwrap()[0].count, 1);
    let only = store.sms_threads(Some(CUSTOMER), 10, 0).await.unwrap();
    assert_eq!(only.len(), 1);
    let thread = store.sms_thread(CUSTOMER, 10).await.unwrap();
    let sids: Vec<&str> = thread.iter().map(|m| m.sid.as_str()).collect();
    assert_eq!(sids, [sid(11), sid(12), sid(13)]);
    assert_eq!(thread[1].status.as_deref(), Some("delivered"));
    assert_eq!(thread[1].context_id.as_deref(), Some("order-42"));
    let newest = store.sms_thread(CUSTOMER, 2).await.unwrap();
    assert_eq!(newest[0].sid, sid(12), "the newest two, oldest first");
}

#[tokio::test]
async fn threads_on_sqlite_and_postgres() {
    let (sqlite, _dir) = sqlite_store().await;
    fill(&sqlite).await;
    threads_are_listed(&sqlite).await;
    let Some(pg) = PgSchema::new().await else {
        return;
    };
    fill(&pg.store).await;
    threads_are_listed(&pg.store).await;
    pg.drop_schema().await;
}

async fn admin_get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let request = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(state, request).await;
    (status, body)
}

#[tokio::test]
async fn the_sms_pages_and_json() {
    let (state, _dir) = state_with(&[], Fake::new(Behaviour::Answer)).await;
    fill(state.store()).await;

    // Admin only, like the other pages.
    for uri in ["/sms", "/sms/%2B972501234567", "/api/sms"] {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let (status, _, _) = send(&state, request).await;
        assert!(
            matches!(status, StatusCode::SEE_OTHER | StatusCode::UNAUTHORIZED),
            "{uri}: {status}"
        );
    }

    let (status, list) = admin_get(&state, "/sms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains(r#"<a href="/sms" aria-current="page">SMS</a>"#),
        "{list}"
    );
    assert!(list.contains(r#"href="/sms/%2B972501234567""#), "{list}");
    assert!(list.contains("תודה!") && list.contains("hello &lt;b&gt;there&lt;/b&gt;"));
    assert!(list.find("תודה!").unwrap() < list.find("hello &lt;b&gt;").unwrap());
    assert_eq!(list.matches("<tr>").count(), 1 + 2);
    let (_, filtered) = admin_get(&state, "/sms?number=%2B15550001111").await;
    assert_eq!(filtered.matches("<tr>").count(), 1 + 1);
    assert_eq!(
        admin_get(&state, "/sms?number=%3Cb%3E").await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, thread) = admin_get(&state, "/sms/%2B972501234567").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "שלום, מתי אתם פתוחים?",
        "אנחנו פתוחים 9 עד 17",
        "ההזמנה שלך מוכנה",
        "תודה!",
        "delivered",
        "order-42",
        "No reply: llm: timed out",
        "Agent reply (TwiML)",
    ] {
        assert!(thread.contains(text), "{text}: {thread}");
    }
    assert!(thread.contains(r#"<p dir="auto">שלום, מתי"#), "{thread}");
    assert!(thread.contains(r#"<section class="msg inbound">"#));
    assert!(thread.contains(r#"<section class="msg outbound">"#));
    let order: Vec<usize> = ["מתי אתם", "אנחנו פתוחים", "ההזמנה", "תודה!"]
        .iter()
        .map(|t| thread.find(t).unwrap())
        .collect();
    assert!(order.is_sorted(), "oldest first: {order:?}");
    assert_eq!(
        admin_get(&state, "/sms/%2B15559999999").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin_get(&state, "/sms/not%20a%20number").await.0,
        StatusCode::BAD_REQUEST
    );

    // The calls page links to the SMS threads.
    let (_, calls) = admin_get(&state, "/calls").await;
    assert!(calls.contains(r#"<a href="/sms">SMS</a>"#), "{calls}");

    let (status, json) = admin_get(&state, "/api/sms").await;
    assert_eq!(status, StatusCode::OK);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["threads"][0]["number"], CUSTOMER);
    assert_eq!(json["threads"][0]["messages"], 3);
    assert_eq!(json["threads"][0]["last"]["body"], "תודה!");
    assert_eq!(json["threads"][1]["number"], "+15550001111");
    assert_eq!(json["next_page"], Value::Null);
    let (_, json) = admin_get(&state, "/api/sms?number=%2B972501234567").await;
    let json: Value = serde_json::from_str(&json).unwrap();
    let messages = json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(messages[0]["reply"], "אנחנו פתוחים 9 עד 17");
    assert_eq!(messages[1]["direction"], "outbound-api");
    assert_eq!(messages[1]["status"], "delivered");
    assert_eq!(messages[1]["created_at"], "2023-11-14T22:13:22.000Z");
    assert_eq!(messages[2]["reply_error"], "llm: timed out");
    assert_eq!(
        admin_get(&state, "/api/sms?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );
}
