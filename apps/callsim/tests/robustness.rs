//! Whatever an agent answers, the simulator reports it and never panics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use kav_callsim::{CallScript, SimConfig, Simulator, Turn};
use kav_twilio_sig::SecretString;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "<Response>",
    "</Response>",
    "<Say>",
    "</Say>",
    "hello",
    "<Say language=\"he-IL\">",
    "<Play>",
    "</Play>",
    "/media",
    "https://agent.example.com/media",
    "agent.example.com/x",
    "<Record/>",
    "<Record action=\"/r\" timeout=\"x\"/>",
    "<Gather input=\"speech dtmf\">",
    "</Gather>",
    "<Redirect>",
    "</Redirect>",
    "<Hangup/>",
    "<Reject reason=\"busy\"/>",
    "<Pause length=\"1\"/>",
    "<Dial>+1</Dial>",
    "<Connect><Stream url=\"wss://agent.example.com/ws\"/></Connect>",
    "&amp;",
    "<",
    ">",
    "\"",
    "<?xml version=\"1.0\"?>",
];

async fn agent(body: Arc<Mutex<(String, &'static str)>>) -> String {
    let app = Router::new()
        .fallback(
            |State(body): State<Arc<Mutex<(String, &'static str)>>>| async move {
                let (text, content_type) = body.lock().unwrap().clone();
                ([(header::CONTENT_TYPE, content_type)], text)
            },
        )
        .with_state(body);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_answer_gives_a_report(
        pieces in proptest::collection::vec(0..PIECES.len(), 0..14),
        content_type in prop::sample::select(vec!["text/xml", "application/xml", "text/plain", "audio/wav", "text/html", "application/json"]),
    ) {
        let text: String = pieces.iter().map(|&i| PIECES[i]).collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let report = runtime.block_on(async {
            let body = Arc::new(Mutex::new((text.clone(), content_type)));
            let server = agent(body).await;
            let config = SimConfig::new(&server, "https://agent.example.com", SecretString::from("t".to_owned()))
                .unwrap()
                .with_max_requests(4)
                .with_stream_idle(Duration::from_millis(50))
                .with_timeouts(Duration::from_secs(2), Duration::from_secs(2));
            // Digits only: no speech synthesis, so the cases stay fast.
            let script = CallScript::new().turn(Turn::digits("1")).turn(Turn::digits("2"));
            Simulator::new(config).run(&script).await.unwrap()
        });
        // The report is complete and serializable, whatever happened.
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        prop_assert_eq!(json["version"].as_u64(), Some(1));
        prop_assert!(!report.requests.is_empty());
        let _ = report.transcript();
    }
}
