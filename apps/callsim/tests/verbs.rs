//! Verb by verb: Redirect, Reject, Gather digits, unsupported verbs, loops, URL mapping, the
//! headers of each request and DNS failures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use kav_callsim::{CallScript, EndReason, Event, SimConfig, Simulator, Turn};
use kav_twilio_sig::{RequestValidator, SecretString};

const TOKEN: &str = "verbs-token";

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    params: HashMap<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// An agent answering each path with fixed TwiML; it checks every signature against
/// `public` and logs the requests.
async fn agent(public: &'static str, pages: &[(&'static str, &'static str)]) -> (String, Log) {
    let pages: Arc<HashMap<&'static str, &'static str>> = Arc::new(pages.iter().copied().collect());
    let log: Log = Arc::default();
    let state = (pages, Arc::clone(&log), public);
    let app = Router::new().fallback(handler).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

type AgentState = (Arc<HashMap<&'static str, &'static str>>, Log, &'static str);

async fn handler(
    State((pages, log, public)): State<AgentState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{public}{path_and_query}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));
    if validator.validate(&url, &params, signature).is_err() {
        return (axum::http::StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    log.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        headers,
        params: params.into_iter().collect(),
    });
    match pages.get(uri.path()) {
        Some(twiml) => ([(header::CONTENT_TYPE, "text/xml")], *twiml).into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "").into_response(),
    }
}

fn config(server: &str, public: &str) -> SimConfig {
    SimConfig::new(server, public, SecretString::from(TOKEN.to_owned())).unwrap()
}

#[tokio::test]
async fn redirect_gather_digits_and_headers() {
    const PUBLIC: &str = "https://agent.example.com";
    let (server, log) = agent(
        PUBLIC,
        &[
            (
                "/webhook/incoming_call",
                "<Response><Redirect>/menu?step=1</Redirect></Response>",
            ),
            (
                "/menu",
                "<Response><Gather numDigits=\"3\" finishOnKey=\"#\"><Say>Press your code</Say></Gather><Say>no input</Say></Response>",
            ),
        ],
    )
    .await;
    let script = CallScript::new().turn(Turn::digits("123#"));
    let report = Simulator::new(config(&server, PUBLIC))
        .run(&script)
        .await
        .unwrap();
    assert!(report.notifications.is_empty(), "{}", report.transcript());
    // The action answers with the same menu; with no turn left, the caller hangs up.
    assert_eq!(report.ended_by, EndReason::CallerHangup);
    let seen = log.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    // Gather without action posts to the document's own URL (with its query).
    assert_eq!(paths, ["/webhook/incoming_call", "/menu", "/menu"]);
    assert_eq!(seen[2].params["Digits"], "123");
    assert_eq!(
        report.requests[2].url,
        "https://agent.example.com/menu?step=1"
    );
    for s in &seen {
        let h = |name: &str| s.headers.get(name).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("user-agent"), "TwilioProxy/1.1");
        assert_eq!(h("content-type"), "application/x-www-form-urlencoded");
        assert_eq!(h("x-forwarded-proto"), "https");
        assert_eq!(h("x-forwarded-host"), "agent.example.com");
        assert_eq!(h("i-twilio-idempotency-token").len(), 36);
        assert_eq!(
            s.params["CallStatus"],
            if s.path == "/webhook/incoming_call" {
                "ringing"
            } else {
                "in-progress"
            }
        );
    }
    let tokens: std::collections::HashSet<_> = seen
        .iter()
        .map(|s| s.headers["i-twilio-idempotency-token"].clone())
        .collect();
    assert_eq!(tokens.len(), seen.len());
}

#[tokio::test]
async fn public_url_with_a_path_prefix() {
    const PUBLIC: &str = "https://example.com/agent";
    let (server, log) = agent(
        PUBLIC,
        &[
            (
                "/webhook/incoming_call",
                "<Response><Redirect>https://example.com/agent/next</Redirect></Response>",
            ),
            ("/next", "<Response><Hangup/></Response>"),
        ],
    )
    .await;
    let report = Simulator::new(config(&server, PUBLIC))
        .run(&CallScript::new())
        .await
        .unwrap();
    assert!(report.notifications.is_empty(), "{}", report.transcript());
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(
        report.requests[0].url,
        "https://example.com/agent/webhook/incoming_call"
    );
}

#[tokio::test]
async fn reject_busy() {
    const PUBLIC: &str = "https://agent.example.com";
    let (server, log) = agent(
        PUBLIC,
        &[
            (
                "/webhook/incoming_call",
                "<Response><Reject reason=\"busy\"/></Response>",
            ),
            ("/webhook/call_status", "<Response/>"),
        ],
    )
    .await;
    let report =
        Simulator::new(config(&server, PUBLIC).with_status_callback("/webhook/call_status"))
            .run(&CallScript::new())
            .await
            .unwrap();
    assert_eq!(report.ended_by, EndReason::Rejected);
    assert_eq!(report.status, "busy");
    let statuses: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == "/webhook/call_status")
        .map(|s| s.params["CallStatus"].clone())
        .collect();
    // A rejected call is never answered: no in-progress.
    assert_eq!(statuses, ["ringing", "busy"]);
}

#[tokio::test]
async fn unsupported_verbs_and_loops() {
    const PUBLIC: &str = "https://agent.example.com";
    let (server, _log) = agent(
        PUBLIC,
        &[
            (
                "/webhook/incoming_call",
                "<Response><Echo/><Pause length=\"2\"/><Redirect>/webhook/incoming_call</Redirect></Response>",
            ),
        ],
    )
    .await;
    let report = Simulator::new(config(&server, PUBLIC).with_max_requests(3))
        .run(&CallScript::new())
        .await
        .unwrap();
    assert_eq!(report.ended_by, EndReason::StepLimit);
    assert_eq!(report.requests.len(), 3);
    assert!(matches!(&report.events[0], Event::Unsupported { verb } if verb == "Echo"));
    assert!(matches!(&report.events[1], Event::Pause { seconds: 2 }));
    assert_eq!(report.duration_seconds, 6);
}

#[tokio::test]
async fn unresolvable_media_host() {
    const PUBLIC: &str = "https://agent.example.com";
    let (server, _log) = agent(
        PUBLIC,
        &[(
            "/webhook/incoming_call",
            "<Response><Play>http://no-such-host.invalid/a.wav</Play><Hangup/></Response>",
        )],
    )
    .await;
    // No DNS in tests: a resolver that knows no name (the agent is reached by IP address).
    let client = reqwest::Client::builder()
        .dns_resolver(Arc::new(NoNames))
        .build()
        .unwrap();
    let report = Simulator::new(config(&server, PUBLIC))
        .with_client(client)
        .run(&CallScript::new())
        .await
        .unwrap();
    // 11210 HTTP bad host name; the call goes on with the next verb.
    assert_eq!(report.codes(), [11210], "{}", report.transcript());
    assert_eq!(report.ended_by, EndReason::AgentHangup);
}

struct NoNames;

impl reqwest::dns::Resolve for NoNames {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("no such host: {}", name.as_str());
        Box::pin(async move { Err(message.into()) })
    }
}
