//! The client against a local server that checks every request against Twilio's OpenAPI
//! document and answers like it.

mod mock;

use std::collections::BTreeSet;
use std::time::Duration;

use kav_twilio_rest::{
    AccountSid, ApiKeySid, Call, CallEvent, CallInstructions, CallSid, CallStatus, CreateCall,
    CreateMessage, Credentials, DownloadOptions, Endpoint, Error, HostAllowList, HttpMethod,
    MachineDetection, Message, MessageStatus, MessagingServiceSid, PhoneNumber, Recording,
    RecordingFormat, RecordingSid, RecordingStatus, RetryPolicy, SecretString, TwilioClient,
    TwilioClientBuilder, UpdateCall, Url,
};
use mock::{Canned, MockTwilio};

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token-123";
const CA: &str = "CAfedcba9876543210fedcba9876543210";
const RE: &str = "RE00112233445566778899aabbccddeeff";

fn creds() -> Credentials {
    Credentials::auth_token(AccountSid::new(AC).unwrap(), SecretString::from(TOKEN)).unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_secs(2))
        .deadline(Duration::from_secs(10))
}

fn client_for(
    server: &MockTwilio,
    f: impl FnOnce(TwilioClientBuilder) -> TwilioClientBuilder,
) -> TwilioClient {
    f(TwilioClient::builder(creds())
        .base_url(server.base_url())
        .retry_policy(fast_retries()))
    .build()
    .unwrap()
}

async fn server() -> MockTwilio {
    MockTwilio::start(AC, TOKEN).await
}

fn num(s: &str) -> PhoneNumber {
    PhoneNumber::new(s).unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn full_call() -> CreateCall {
    CreateCall::new(
        num("+14155550100"),
        num("+14155550199"),
        CallInstructions::Url {
            url: url("https://agent.example.com/webhook/incoming_call?ctx=order-42"),
            method: Some(HttpMethod::Post),
        },
    )
    .status_callback(url("https://agent.example.com/webhook/call_status"))
    .status_callback_events(CallEvent::ALL.iter().copied())
    .status_callback_method(HttpMethod::Post)
    .fallback_url(
        url("https://agent.example.com/webhook/fallback"),
        Some(HttpMethod::Get),
    )
    .record(true)
    .recording_status_callback(url("https://agent.example.com/webhook/recording_status"))
    .machine_detection(MachineDetection::DetectMessageEnd)
    .timeout(25)
    .time_limit(600)
    .send_digits("ww1234#")
}

#[tokio::test]
async fn create_call_with_every_parameter_matches_the_document() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    let call: Call = c.create_call(&full_call()).await.unwrap();
    s.assert_clean();
    assert_eq!(call.status, Some(CallStatus::Queued));
    assert_eq!(call.to.as_deref(), Some("+14155550100"));
    assert_eq!(call.account_sid.as_ref().map(AccountSid::as_str), Some(AC));
    assert!(call.sid.is_some());
    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{AC}/Calls.json"));
    assert_eq!(r.operation.as_deref(), Some("CreateCall"));
    assert_eq!(
        r.values("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(
        r.values("Url"),
        ["https://agent.example.com/webhook/incoming_call?ctx=order-42"]
    );
    assert_eq!(r.values("MachineDetection"), ["DetectMessageEnd"]);
    assert_eq!(r.values("Record"), ["true"]);
    assert_eq!(r.values("SendDigits"), ["ww1234#"]);
}

#[tokio::test]
async fn create_call_with_twiml_client_and_sip_endpoints() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    for to in ["client:alice", "sip:bob@example.com"] {
        c.create_call(&CreateCall::new(
            Endpoint::parse(to).unwrap(),
            num("+14155550199"),
            CallInstructions::twiml("<Response><Say>שלום</Say></Response>"),
        ))
        .await
        .unwrap();
    }
    s.assert_clean();
    let seen = s.seen();
    assert_eq!(seen[0].values("To"), ["client:alice"]);
    assert_eq!(seen[1].values("To"), ["sip:bob@example.com"]);
    assert_eq!(
        seen[1].values("Twiml"),
        ["<Response><Say>שלום</Say></Response>"]
    );
}

#[tokio::test]
async fn the_validating_server_rejects_what_the_document_forbids() {
    // Guard against a validator that accepts anything: send raw requests that break it.
    let s = server().await;
    let http = reqwest::Client::new();
    let post = |path: String, body: &'static str, ct: &'static str| {
        http.post(format!("{}{path}", s.base_url()))
            .basic_auth(AC, Some(TOKEN))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let calls = format!("/2010-04-01/Accounts/{AC}/Calls.json");
    let form = "application/x-www-form-urlencoded";
    let cases = [
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B14155550199",
            form,
            "exactly one of Url",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&Url=https%3A%2F%2Fa.b%2F",
            form,
            "required parameter From",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&Bogus=1",
            form,
            "Bogus is not in the document",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&Method=PUT",
            form,
            "Method=\"PUT\"",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&StatusCallback=https%3A%2F%2Fa.b%2F&StatusCallbackEvent=Ringing",
            form,
            "StatusCallbackEvent",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=a.b%2Fvoice",
            form,
            "absolute",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&Timeout=ten",
            form,
            "integer",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&MachineDetection=Yes",
            form,
            "MachineDetection",
        ),
        (
            calls.clone(),
            "To=4155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F",
            form,
            "To=",
        ),
        (
            calls.clone(),
            "To=%2B14155550100&From=%2B1415&Url=https%3A%2F%2Fa.b%2F&Url=https%3A%2F%2Fc.d%2F",
            form,
            "repeated",
        ),
        (
            calls.clone(),
            "{\"To\":\"+14155550100\"}",
            "application/json",
            "content type",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Messages.json"),
            "To=%2B14155550100&Body=hi",
            form,
            "one of From, MessagingServiceSid",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Messages.json"),
            "To=%2B14155550100&From=%2B14155550199",
            form,
            "one of Body, MediaUrl",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Calls/CA123.json"),
            "Status=completed",
            form,
            "does not match",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Calls/{CA}.json"),
            "Status=hangup",
            form,
            "Status=\"hangup\"",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Calls/{CA}.json"),
            "Url=https%3A%2F%2Fa.b%2F&Twiml=%3CResponse%2F%3E",
            form,
            "mutually exclusive",
        ),
        (
            format!("/2010-04-01/Accounts/{AC}/Nope.json"),
            "",
            form,
            "no path template",
        ),
    ];
    for (i, (path, body, ct, expect)) in cases.iter().enumerate() {
        let resp = post(path.clone(), body, ct).await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "case {i}: {path} {body}");
        let doc: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        let text = doc["message"].as_str().unwrap();
        assert!(
            text.contains(expect),
            "case {i}: wanted {expect:?} in {text}"
        );
    }
    // Wrong credentials are answered 401 like Twilio does.
    let resp = http
        .get(format!(
            "{}/2010-04-01/Accounts/{AC}/Calls/{CA}.json",
            s.base_url()
        ))
        .basic_auth(AC, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(s.auth_failures(), 1);
}

#[tokio::test]
async fn update_and_fetch_call() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    let sid = CallSid::new(CA).unwrap();
    let hung = c.hang_up(&sid).await.unwrap();
    assert_eq!(hung.status, Some(CallStatus::Completed));
    assert_eq!(hung.sid.as_ref(), Some(&sid));
    let canceled = c.update_call(&sid, &UpdateCall::cancel()).await.unwrap();
    assert_eq!(canceled.status, Some(CallStatus::Canceled));
    c.update_call(
        &sid,
        &UpdateCall::redirect(
            url("https://agent.example.com/webhook/next"),
            Some(HttpMethod::Post),
        )
        .status_callback(
            url("https://agent.example.com/webhook/call_status"),
            Some(HttpMethod::Post),
        ),
    )
    .await
    .unwrap();
    c.update_call(
        &sid,
        &UpdateCall::twiml("<Response><Hangup/></Response>").time_limit(30),
    )
    .await
    .unwrap();
    let fetched = c.fetch_call(&sid).await.unwrap();
    assert_eq!(fetched.sid.as_ref(), Some(&sid));
    assert!(
        fetched.answered_by.is_some(),
        "from the document's fetch example"
    );
    s.assert_clean();
    let seen = s.seen();
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen[0].form,
        [("Status".to_owned(), "completed".to_owned())]
    );
    assert_eq!(
        seen[2].values("Url"),
        ["https://agent.example.com/webhook/next"]
    );
    assert_eq!(seen[4].method, "GET");
    assert!(
        seen.iter()
            .all(|r| r.path == format!("/2010-04-01/Accounts/{AC}/Calls/{CA}.json"))
    );
}

#[tokio::test]
async fn create_messages() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    let m: Message = c
        .create_message(
            &CreateMessage::new(num("+972501234567"), num("+14155550199"))
                .body("תודה שהתקשרת")
                .status_callback(url("https://agent.example.com/webhook/sms_status")),
        )
        .await
        .unwrap();
    assert_eq!(m.status, Some(MessageStatus::Queued));
    assert_eq!(m.body.as_deref(), Some("תודה שהתקשרת"));
    assert!(m.sid.unwrap().as_str().starts_with("SM"));
    let mg = MessagingServiceSid::new("MG0123456789abcdef0123456789abcdef").unwrap();
    c.create_message(
        &CreateMessage::new(num("+972501234567"), mg)
            .media_url(url("https://agent.example.com/media/a.png"))
            .media_url(url("https://agent.example.com/media/b.png")),
    )
    .await
    .unwrap();
    s.assert_clean();
    let seen = s.seen();
    assert_eq!(
        seen[0].values("StatusCallback"),
        ["https://agent.example.com/webhook/sms_status"]
    );
    assert_eq!(seen[1].values("MediaUrl").len(), 2);
    assert_eq!(
        seen[1].values("MessagingServiceSid"),
        ["MG0123456789abcdef0123456789abcdef"]
    );
    assert!(seen[1].values("From").is_empty());
}

#[tokio::test]
async fn api_key_credentials() {
    const SK: &str = "SK0123456789abcdef0123456789abcdef";
    let s = MockTwilio::start(SK, "key-secret").await;
    let creds = Credentials::api_key(
        AccountSid::new(AC).unwrap(),
        &ApiKeySid::new(SK).unwrap(),
        SecretString::from("key-secret"),
    )
    .unwrap();
    let c = TwilioClient::builder(creds)
        .base_url(s.base_url())
        .build()
        .unwrap();
    c.fetch_call(&CallSid::new(CA).unwrap()).await.unwrap();
    assert_eq!(s.auth_failures(), 0);
    assert_eq!(
        s.seen()[0].path,
        format!("/2010-04-01/Accounts/{AC}/Calls/{CA}.json")
    );
    s.assert_clean();
}

#[tokio::test]
async fn wrong_credentials_give_twilio_auth_error() {
    let s = server().await;
    let bad =
        Credentials::auth_token(AccountSid::new(AC).unwrap(), SecretString::from("nope")).unwrap();
    let c = TwilioClient::builder(bad)
        .base_url(s.base_url())
        .build()
        .unwrap();
    let err = c.fetch_call(&CallSid::new(CA).unwrap()).await.unwrap_err();
    let api = err.api_error().expect("an API error");
    assert_eq!((api.status, api.code), (401, Some(20003)));
    assert_eq!(s.auth_failures(), 1);
}

#[tokio::test]
async fn twilio_error_document_becomes_typed_error() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    s.push(Canned::twilio_error(
        400,
        21211,
        "The 'To' number +15005550001 is not a valid phone number.",
    ));
    let err = c.create_call(&full_call()).await.unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.code, Some(21211));
    assert_eq!(api.status, 400);
    assert_eq!(
        api.more_info.as_deref(),
        Some("https://www.twilio.com/docs/errors/21211")
    );
    let shown = err.to_string();
    assert!(
        shown.contains("21211") && shown.contains("is not a valid phone number"),
        "{shown}"
    );
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    s.push(Canned::twilio_error(429, 20429, "Too Many Requests").header("retry-after", "1"));
    let call = c.create_call(&full_call()).await.unwrap();
    assert!(call.sid.is_some());
    assert_eq!(s.seen().len(), 2);
    s.assert_clean();
}

#[tokio::test]
async fn retries_503_then_succeeds_and_gives_up_at_the_limit() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    s.push(Canned::status(503));
    c.create_message(&CreateMessage::new(num("+14155550100"), num("+14155550199")).body("hi"))
        .await
        .unwrap();
    assert_eq!(s.seen().len(), 2);
    // Four 503s in a row: the first attempt and three retries, then the error.
    for _ in 0..4 {
        s.push(Canned::twilio_error(503, 20503, "Service Unavailable"));
    }
    let err = c.fetch_call(&CallSid::new(CA).unwrap()).await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(503));
    assert_eq!(s.seen().len(), 2 + 4);
}

#[tokio::test]
async fn retry_after_beyond_the_budget_is_not_waited_for() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    s.push(Canned::twilio_error(429, 20429, "Too Many Requests").header("retry-after", "3600"));
    let err = c.create_call(&full_call()).await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.code), Some(Some(20429)));
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn create_is_never_retried_after_500_or_timeout() {
    let s = server().await;
    let c = client_for(&s, |b| b.request_timeout(Duration::from_secs(1)));
    s.push(Canned::twilio_error(500, 20500, "Internal Server Error"));
    let err = c.create_call(&full_call()).await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(500));
    assert_eq!(s.seen().len(), 1, "a 500 may have created the call");
    // A request that reached Twilio but whose answer never came back.
    s.push(Canned::status(201).delay(Duration::from_secs(5)));
    let err = c
        .create_message(&CreateMessage::new(num("+14155550100"), num("+14155550199")).body("hi"))
        .await
        .unwrap_err();
    let Error::Http { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(source.is_timeout());
    assert_eq!(s.seen().len(), 2, "a timed-out create is not repeated");
    // A fetch that timed out is safe to repeat.
    s.push(Canned::status(200).delay(Duration::from_secs(5)));
    c.fetch_call(&CallSid::new(CA).unwrap()).await.unwrap();
    assert_eq!(s.seen().len(), 4);
}

#[tokio::test]
async fn create_is_retried_when_the_connection_failed() {
    // Reserve a port, close it, and start the server there only after the first attempt.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = TwilioClient::builder(creds())
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry_policy(
            RetryPolicy::default()
                .max_retries(8)
                .initial_backoff(Duration::from_millis(200))
                .deadline(Duration::from_secs(20)),
        )
        .build()
        .unwrap();
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        MockTwilio::serve(listener, AC, TOKEN)
    });
    let call = c.create_call(&full_call()).await.unwrap();
    assert!(call.sid.is_some());
    let s = late.await.unwrap();
    assert_eq!(s.seen().len(), 1, "exactly one request reached the server");
    s.assert_clean();

    // Nothing ever listening: the connect error comes back once the retries are spent.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = TwilioClient::builder(creds())
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry_policy(
            RetryPolicy::default()
                .max_retries(1)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let err = c.create_call(&full_call()).await.unwrap_err();
    let Error::Http { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(source.is_connect());
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn recordings_fetch_and_delete() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    let sid = RecordingSid::new(RE).unwrap();
    let r: Recording = c.fetch_recording(&sid).await.unwrap();
    assert_eq!(r.sid.as_ref(), Some(&sid));
    assert_eq!(r.status, Some(RecordingStatus::Completed));
    assert_eq!(r.channels, Some(1));
    c.delete_recording(&sid).await.unwrap();
    s.assert_clean();
    let seen = s.seen();
    assert_eq!(seen[1].method, "DELETE");
    assert_eq!(seen[1].operation.as_deref(), Some("DeleteRecording"));
}

fn recording_url(s: &MockTwilio) -> String {
    format!("{}/2010-04-01/Accounts/{AC}/Recordings/{RE}", s.base_url())
}

#[tokio::test]
async fn download_wav_by_default_and_mp3_on_request() {
    let s = server().await;
    let c = client_for(&s, |b| b);
    let wav = c
        .download_recording(&recording_url(&s), RecordingFormat::default())
        .await
        .unwrap();
    assert_eq!(wav.bytes, mock::wav_bytes());
    assert_eq!(wav.content_type.as_deref(), Some("audio/x-wav"));
    let mp3 = c
        .download_recording(&recording_url(&s), RecordingFormat::Mp3)
        .await
        .unwrap();
    assert_eq!(mp3.bytes, mock::mp3_bytes());
    // A URL that already carries an extension is normalised.
    let again = c
        .download_recording(&format!("{}.json", recording_url(&s)), RecordingFormat::Wav)
        .await
        .unwrap();
    assert_eq!(
        again.url.path(),
        format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav")
    );
    let by_sid = c
        .download_recording_by_sid(&RecordingSid::new(RE).unwrap(), RecordingFormat::Wav)
        .await
        .unwrap();
    assert_eq!(by_sid.bytes, wav.bytes);
    let seen = s.seen();
    assert_eq!(
        seen[0].path,
        format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav")
    );
    assert_eq!(
        seen[1].path,
        format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3")
    );
    assert!(seen.iter().all(|r| r.authorization.is_some()));
    assert_eq!(s.auth_failures(), 0);
    s.assert_clean();
}

#[tokio::test]
async fn download_waits_for_a_recording_that_is_not_ready() {
    let s = server().await;
    let c = client_for(&s, |b| {
        b.download_options(DownloadOptions::default().not_ready_backoff(Duration::from_millis(20)))
    });
    s.push(Canned::twilio_error(
        404,
        20404,
        "The requested resource was not found",
    ));
    s.push(Canned::twilio_error(
        404,
        20404,
        "The requested resource was not found",
    ));
    let media = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap();
    assert_eq!(media.bytes, mock::wav_bytes());
    assert_eq!(s.seen().len(), 3);

    // Never ready within the window: a NotReady error, after a bounded number of tries.
    let c = client_for(&s, |b| {
        b.download_options(
            DownloadOptions::default()
                .not_ready_backoff(Duration::from_millis(20))
                .not_ready_wait(Duration::from_millis(300)),
        )
    });
    for _ in 0..100 {
        s.push(Canned::status(404));
    }
    let before = s.seen().len();
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotReady { .. }), "{err:?}");
    let tries = s.seen().len() - before;
    assert!((1..100).contains(&tries), "{tries} tries");
}

#[tokio::test]
async fn download_refuses_oversized_media() {
    let s = server().await;
    let c = client_for(&s, |b| {
        b.download_options(DownloadOptions::default().max_bytes(10_000))
    });
    // Declared by Content-Length.
    s.push(
        Canned::status(200)
            .header("content-type", "audio/x-wav")
            .body(vec![0; 10_001]),
    );
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 10_000 }), "{err:?}");
    // Streamed without a length.
    s.push(Canned::status(200).body(vec![0; 50_000]).chunked());
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    // Exactly at the cap is fine.
    s.push(Canned::status(200).body(vec![7; 10_000]).chunked());
    let ok = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap();
    assert_eq!(ok.bytes.len(), 10_000);
}

#[tokio::test]
async fn download_times_out() {
    let s = server().await;
    let c = client_for(&s, |b| {
        b.download_options(DownloadOptions::default().timeout(Duration::from_millis(200)))
            .retry_policy(RetryPolicy::none())
    });
    s.push(Canned::status(200).delay(Duration::from_secs(3)));
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    let Error::Http { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(source.is_timeout());
}

#[tokio::test]
async fn download_only_from_allow_listed_hosts() {
    let s = server().await;
    let foreign = MockTwilio::start(AC, TOKEN).await;
    let c = client_for(&s, |b| b);
    for bad in [
        format!(
            "{}/2010-04-01/Accounts/{AC}/Recordings/{RE}",
            foreign.base_url()
        ),
        format!("https://evil.example.com/2010-04-01/Accounts/{AC}/Recordings/{RE}"),
        format!("http://api.twilio.com:8080/2010-04-01/Accounts/{AC}/Recordings/{RE}"),
        format!("https://api.twilio.com.evil.example/2010-04-01/Accounts/{AC}/Recordings/{RE}"),
    ] {
        let err = c
            .download_recording(&bad, RecordingFormat::Wav)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::HostNotAllowed { .. }),
            "{bad}: {err:?}"
        );
    }
    for bad in [
        "not a url",
        "ftp://api.twilio.com/x",
        "https://u:p@api.twilio.com/x",
    ] {
        let err = c
            .download_recording(bad, RecordingFormat::Wav)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad}: {err:?}");
    }
    assert!(foreign.seen().is_empty());
    // Twilio's own hosts pass the check (http upgraded to https); nothing is sent here.
    let u = c
        .recording_media_url(
            &format!("http://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}"),
            RecordingFormat::Mp3,
        )
        .unwrap();
    assert_eq!(
        u.as_str(),
        format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3")
    );
    assert!(
        c.recording_media_url(
            &format!("https://api.dublin.ie1.twilio.com/x/{RE}"),
            RecordingFormat::Wav
        )
        .is_ok()
    );
    // An explicit entry allows a local origin.
    let c = client_for(&s, |b| {
        b.allow_list(HostAllowList::twilio().allow(&foreign.base_url()).unwrap())
    });
    let media = c
        .download_recording(
            &format!(
                "{}/2010-04-01/Accounts/{AC}/Recordings/{RE}",
                foreign.base_url()
            ),
            RecordingFormat::Wav,
        )
        .await
        .unwrap();
    assert_eq!(media.bytes, mock::wav_bytes());
}

#[tokio::test]
async fn redirects_to_foreign_hosts_are_not_followed() {
    let s = server().await;
    let foreign = MockTwilio::start(AC, TOKEN).await;
    let target = format!(
        "{}/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav",
        foreign.base_url()
    );
    let c = client_for(&s, |b| b);
    s.push(Canned::status(302).header("location", target.clone()));
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HostNotAllowed { .. }), "{err:?}");
    assert!(err.to_string().contains(&foreign.addr.to_string()));
    assert!(
        foreign.seen().is_empty(),
        "no request went to the foreign host"
    );

    // Allowed target on another origin: followed, without credentials.
    let c = client_for(&s, |b| {
        b.allow_list(HostAllowList::twilio().allow(&foreign.base_url()).unwrap())
    });
    s.push(Canned::status(307).header("location", target.clone()));
    let media = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await;
    // The foreign server insists on Basic auth and answers 401 without it.
    let err = media.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(401));
    assert_eq!(foreign.seen().len(), 1);
    assert_eq!(
        foreign.seen()[0].authorization,
        None,
        "credentials stay on the first origin"
    );

    // A relative redirect on the same origin keeps credentials.
    s.push(Canned::status(302).header(
        "location",
        format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav"),
    ));
    let media = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap();
    assert_eq!(media.bytes, mock::wav_bytes());

    // Too many redirects.
    for _ in 0..10 {
        s.push(Canned::status(302).header(
            "location",
            format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav"),
        ));
    }
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Redirect { .. }), "{err:?}");
}

#[tokio::test]
async fn an_injected_client_that_follows_redirects_is_still_checked() {
    let s = server().await;
    let foreign = MockTwilio::start(AC, TOKEN).await;
    let target = format!(
        "{}/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav",
        foreign.base_url()
    );
    let following = reqwest::Client::builder().build().unwrap();
    let c = client_for(&s, |b| b.http_client(following));
    s.push(Canned::status(302).header("location", target));
    let err = c
        .download_recording(&recording_url(&s), RecordingFormat::Wav)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HostNotAllowed { .. }), "{err:?}");
    // reqwest itself drops credentials on a cross-origin redirect.
    assert!(foreign.seen().iter().all(|r| r.authorization.is_none()));
}

#[test]
fn responses_tolerate_unknown_fields_and_nulls_everywhere() {
    let call: Call =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.call")).unwrap();
    assert_eq!(
        call.status,
        Some(CallStatus::Queued),
        "status is the one non-nullable field"
    );
    assert_eq!(call.sid, None);
    let m: Message =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.message")).unwrap();
    assert_eq!(m.sid, None);
    let r: Recording =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.recording")).unwrap();
    assert_eq!(r.media_url, None);
}

fn keys_of(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn models_cover_exactly_the_documented_properties() {
    let all: BTreeSet<String> = mock::schema_properties("api.v2010.account.call")
        .into_iter()
        .collect();
    let call: Call =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.call")).unwrap();
    assert_eq!(keys_of(&serde_json::to_value(call).unwrap()), all);
    let all: BTreeSet<String> = mock::schema_properties("api.v2010.account.message")
        .into_iter()
        .collect();
    let m: Message =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.message")).unwrap();
    assert_eq!(keys_of(&serde_json::to_value(m).unwrap()), all);
    let all: BTreeSet<String> = mock::schema_properties("api.v2010.account.recording")
        .into_iter()
        .collect();
    let r: Recording =
        serde_json::from_value(mock::all_null_from_schema("api.v2010.account.recording")).unwrap();
    assert_eq!(keys_of(&serde_json::to_value(r).unwrap()), all);
}

#[test]
fn every_document_example_parses() {
    let calls = "/2010-04-01/Accounts/{AccountSid}/Calls.json";
    let call = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json";
    let messages = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
    let recording = "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json";
    let mut n = 0;
    for v in mock::examples(calls, "post", "201")
        .into_iter()
        .chain(mock::examples(call, "post", "200"))
        .chain(mock::examples(call, "get", "200"))
    {
        let c: Call = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
        assert!(c.sid.is_some());
        n += 1;
    }
    for v in mock::examples(messages, "post", "201") {
        let m: Message = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
        assert!(m.status.is_some());
        n += 1;
    }
    for v in mock::examples(recording, "get", "200") {
        let r: Recording = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
        assert!(r.media_url.is_some());
        n += 1;
    }
    assert!(n >= 8, "{n} examples");
}

#[test]
fn enums_match_the_document() {
    let enum_values = |name: &str| -> BTreeSet<String> {
        mock::spec()["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let ours = |it: Vec<String>| -> BTreeSet<String> { it.into_iter().collect() };
    assert_eq!(
        ours(
            CallStatus::KNOWN
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("call_enum_status")
    );
    assert_eq!(
        ours(
            CallEvent::ALL
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("call_enum_event")
    );
    assert_eq!(
        ours(
            kav_twilio_rest::CallUpdateStatus::ALL
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("call_enum_update_status")
    );
    assert_eq!(
        ours(
            MessageStatus::KNOWN
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("message_enum_status")
    );
    assert_eq!(
        ours(
            kav_twilio_rest::MessageDirection::KNOWN
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("message_enum_direction")
    );
    assert_eq!(
        ours(
            RecordingStatus::KNOWN
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("recording_enum_status")
    );
    assert_eq!(
        ours(
            kav_twilio_rest::RecordingSource::KNOWN
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        enum_values("recording_enum_source")
    );
    let method: BTreeSet<String> = mock::spec()["paths"]["/2010-04-01/Accounts/{AccountSid}/Calls.json"]["post"]
        ["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]["Method"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ours(
            HttpMethod::ALL
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect()
        ),
        method
    );
}
