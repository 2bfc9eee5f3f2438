//! Full-call recording and post-call transcription: `<Start><Recording>` in the greeting,
//! `/webhook/recording_status` queuing one durable job, and the worker downloading the
//! recording from a local fake recordings host and transcribing it with a local fake OpenAI
//! server — retries, parking, restart and shutdown included.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::fakes::{self, ACCOUNT, FakeOpenAi, Mode, RecordingsHost, TOKEN};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::store::JobState;
use kav_server::worker::{JobOutcome, TRANSCRIBE_RECORDING, Worker};
use kav_server::{Agent, AppState, Config, Store, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

const BASE: &str = "https://agent.example.com";
const SID: &str = "CA0123456789abcdef0123456789abcdef";
const REC: &str = "RE0123456789abcdef0123456789abcdef";
const SAID: &str = "שלום, רציתי לברר מתי אתם פתוחים מחר.";

fn config(openai: &str, host: &RecordingsHost, dir: &TempDir, extra: &[(&str, &str)]) -> Config {
    let data = dir.path().to_str().unwrap().to_owned();
    let mut vars: Vec<(&str, String)> = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN.to_owned()),
        ("TWILIO_ACCOUNT_SID", ACCOUNT.to_owned()),
        ("PUBLIC_BASE_URL", BASE.to_owned()),
        ("CALL_MODE", "gather".to_owned()),
        ("OPENAI_API_KEY", "sk-test".to_owned()),
        ("OPENAI_BASE_URL", openai.to_owned()),
        ("RECORDING_HOSTS", host.origin.clone()),
        ("KAV_TTS", "off".to_owned()),
        ("KAV_LLM", "scripted".to_owned()),
        ("KAV_RECORD_CALLS", "true".to_owned()),
        ("KAV_DATA_DIR", data),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Config::from_vars(vars).unwrap()
}

fn state(config: Config, store: Store) -> AppState {
    let agent = Agent::from_config(&config);
    AppState::with_agent(config, store, agent)
}

struct Setup {
    state: AppState,
    fake: FakeOpenAi,
    host: RecordingsHost,
    dir: TempDir,
    openai: String,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let (openai, fake) = fakes::fake_openai(&[SAID]).await;
    let host = fakes::recordings_host(fakes::speech_wav(SAID).await).await;
    let (store, dir) = sqlite_store().await;
    let state = state(config(&openai, &host, &dir, extra), store);
    Setup {
        state,
        fake,
        host,
        dir,
        openai,
    }
}

fn signed(path: &str, params: &[(&str, &str)]) -> Request<Body> {
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path}"), params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post(path)
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

fn recording_status(status: &str, url: &str) -> Request<Body> {
    signed(
        "/webhook/recording_status",
        &[
            ("AccountSid", ACCOUNT),
            ("CallSid", SID),
            ("RecordingSid", REC),
            ("RecordingStatus", status),
            ("RecordingDuration", "3"),
            ("RecordingUrl", url),
            ("RecordingChannels", "1"),
            ("RecordingSource", "StartCallRecordingTwiML"),
        ],
    )
}

async fn jobs(state: &AppState) -> Vec<kav_server::store::JobRecord> {
    state
        .store()
        .jobs_of_kind(TRANSCRIBE_RECORDING)
        .await
        .unwrap()
}

#[tokio::test]
async fn incoming_calls_start_a_full_call_recording_in_both_modes() {
    let start = "<Start><Recording recordingStatusCallback=\"https://agent.example.com/webhook/recording_status\" \
                 recordingStatusCallbackEvent=\"completed\" recordingStatusCallbackMethod=\"POST\"/></Start>";
    for (mode, next) in [("gather", "<Gather "), ("record", "<Say ")] {
        let s = setup(&[("CALL_MODE", mode)]).await;
        let (status, body) = send(
            &s.state,
            signed(
                "/webhook/incoming_call",
                &[("CallSid", SID), ("CallStatus", "ringing")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let after = body
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>")
            .unwrap();
        assert!(after.starts_with(start), "{body}");
        assert!(after[start.len()..].starts_with(next), "{body}");
    }
    // Off: no recording.
    let s = setup(&[("KAV_RECORD_CALLS", "false")]).await;
    let (_, body) = send(
        &s.state,
        signed(
            "/webhook/incoming_call",
            &[("CallSid", SID), ("CallStatus", "ringing")],
        ),
    )
    .await;
    assert!(!body.contains("<Start>"), "{body}");
}

#[tokio::test]
async fn a_completed_recording_is_queued_once_and_transcribed() {
    let s = setup(&[]).await;
    let url = s.host.url(REC);
    // Twilio retries: the same callback three times, plus an earlier in-progress event.
    assert_eq!(
        send(&s.state, recording_status("in-progress", &url))
            .await
            .0,
        StatusCode::OK
    );
    for _ in 0..3 {
        let (status, body) = send(&s.state, recording_status("completed", &url)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty(), "{body}");
    }
    let queued = jobs(&s.state).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].state, JobState::Queued);
    assert_eq!(
        s.state.store().recording_events(REC).await.unwrap().len(),
        2
    );

    let worker = Worker::new(s.state.clone());
    let outcome = worker.run_once().await.unwrap();
    assert_eq!(
        outcome,
        Some(JobOutcome::Done {
            id: queued[0].id.clone()
        })
    );
    assert_eq!(worker.run_once().await.unwrap(), None);
    assert_eq!(s.host.hits(), 1);
    assert_eq!(
        s.fake.stt_calls.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let transcripts = s.state.store().call_transcripts(SID).await.unwrap();
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    let t = &transcripts[0];
    assert_eq!(t.recording_sid, REC);
    assert_eq!(t.text.as_deref(), Some(SAID));
    assert_eq!(t.provider.as_deref(), Some("openai"));
    assert!(t.error.is_none() && t.audio_ms.unwrap() > 1000 && t.stt_ms.is_some());
    assert_eq!(
        s.state.store().call_transcript(REC).await.unwrap().as_ref(),
        Some(t)
    );
    let job = s.state.store().job(&queued[0].id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 1));
    assert!(fakes::leftover_temp_files(s.dir.path()).is_empty());
    let metrics = s.state.metrics().render(None);
    assert!(
        metrics.contains("kav_jobs_total{kind=\"transcribe_recording\",outcome=\"done\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_full_call_recording_nothing_is_queued() {
    let s = setup(&[("KAV_RECORD_CALLS", "false")]).await;
    let (status, _) = send(&s.state, recording_status("completed", &s.host.url(REC))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(jobs(&s.state).await.is_empty());
    assert_eq!(
        s.state.store().recording_events(REC).await.unwrap().len(),
        1
    );
    assert_eq!(Worker::new(s.state.clone()).run_once().await.unwrap(), None);
}

#[tokio::test]
async fn failing_stt_is_retried_with_backoff_then_parked() {
    let s = setup(&[("KAV_JOB_MAX_ATTEMPTS", "3")]).await;
    *s.fake.stt_mode.lock().unwrap() = Mode::Fail;
    send(&s.state, recording_status("completed", &s.host.url(REC))).await;
    let worker = Worker::new(s.state.clone());
    let mut now = kav_server::store::now_millis();
    let mut delays = Vec::new();
    for attempt in 1..=2 {
        let Some(JobOutcome::Retry {
            run_after, error, ..
        }) = worker.run_once_at(now).await.unwrap()
        else {
            panic!("attempt {attempt} was not retried");
        };
        assert!(error.starts_with("stt: "), "{error}");
        assert!(!error.contains("sk-test"), "{error}");
        // Not runnable again before its backoff.
        assert_eq!(worker.run_once_at(run_after - 1).await.unwrap(), None);
        delays.push(run_after - now);
        now = run_after;
    }
    assert_eq!(
        delays,
        [
            i64::try_from(kav_server::store::backoff(1).as_millis()).unwrap(),
            i64::try_from(kav_server::store::backoff(2).as_millis()).unwrap()
        ]
    );
    let Some(JobOutcome::Parked { error, .. }) = worker.run_once_at(now).await.unwrap() else {
        panic!("not parked after 3 attempts");
    };
    assert!(error.starts_with("stt: "), "{error}");
    assert_eq!(worker.run_once_at(now + 86_400_000).await.unwrap(), None);
    let job = &jobs(&s.state).await[0];
    assert_eq!((job.state, job.attempts), (JobState::Parked, 3));
    assert!(
        s.state
            .store()
            .call_transcripts(SID)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.host.hits(), 3);
    assert!(fakes::leftover_temp_files(s.dir.path()).is_empty());
}

#[tokio::test]
async fn a_recording_off_the_allow_list_is_parked_at_once() {
    let s = setup(&[]).await;
    send(
        &s.state,
        recording_status(
            "completed",
            &format!("https://evil.example.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC}"),
        ),
    )
    .await;
    let outcome = Worker::new(s.state.clone()).run_once().await.unwrap();
    let Some(JobOutcome::Parked { error, .. }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("host not allowed"), "{error}");
    assert_eq!(s.host.hits(), 0);
    assert_eq!(
        s.fake.stt_calls.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_silent_recording_is_stored_as_no_speech_without_calling_stt() {
    let s = setup(&[]).await;
    *s.host.wav.lock().unwrap() = fakes::silence_wav(4);
    send(&s.state, recording_status("completed", &s.host.url(REC))).await;
    let outcome = Worker::new(s.state.clone()).run_once().await.unwrap();
    assert!(
        matches!(outcome, Some(JobOutcome::Done { .. })),
        "{outcome:?}"
    );
    let t = s.state.store().call_transcript(REC).await.unwrap().unwrap();
    assert_eq!(t.text, None);
    assert!(
        t.error.as_deref().unwrap().starts_with("no speech"),
        "{t:?}"
    );
    assert_eq!(
        s.fake.stt_calls.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

async fn wait_for<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_queued_job_survives_a_restart() {
    let Setup {
        state,
        fake: _fake,
        host,
        dir,
        openai,
    } = setup(&[]).await;
    send(&state, recording_status("completed", &host.url(REC))).await;
    let id = jobs(&state).await[0].id.clone();
    // The server stops before any worker ran: the store is closed, the state dropped.
    state.store().close().await;
    drop(state);

    let url = format!("sqlite://{}", dir.path().join("kav.db").display());
    let store = Store::connect(&url, dir.path()).await.unwrap();
    let state = self::state(config(&openai, &host, &dir, &[]), store);
    let handle = Worker::new(state.clone())
        .with_poll_interval(Duration::from_millis(20))
        .spawn();
    let store = state.store().clone();
    let done = wait_for(|| {
        let store = store.clone();
        let id = id.clone();
        async move {
            store
                .job(&id)
                .await
                .unwrap()
                .is_some_and(|j| j.state == JobState::Done)
        }
    })
    .await;
    handle.stop().await;
    assert!(done, "the job was not run after the restart");
    let transcripts = state.store().call_transcripts(SID).await.unwrap();
    assert_eq!(transcripts[0].text.as_deref(), Some(SAID));
    assert!(fakes::leftover_temp_files(dir.path()).is_empty());
}

#[tokio::test]
async fn stopping_gives_the_running_job_back() {
    let s = setup(&[]).await;
    *s.fake.stt_mode.lock().unwrap() = Mode::Hang;
    send(&s.state, recording_status("completed", &s.host.url(REC))).await;
    let id = jobs(&s.state).await[0].id.clone();
    let handle = Worker::new(s.state.clone())
        .with_poll_interval(Duration::from_millis(20))
        .spawn();
    let fake = s.fake.clone();
    let started = wait_for(|| {
        let fake = fake.clone();
        async move { fake.stt_calls.load(std::sync::atomic::Ordering::SeqCst) > 0 }
    })
    .await;
    assert!(started, "the worker never reached speech-to-text");
    let running = s.state.store().job(&id).await.unwrap().unwrap();
    assert_eq!((running.state, running.attempts), (JobState::Running, 1));
    handle.stop().await;
    let job = s.state.store().job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0), "{job:?}");
    // Another worker takes it at once, and finishes it.
    *s.fake.stt_mode.lock().unwrap() = Mode::Ok;
    let outcome = Worker::new(s.state.clone()).run_once().await.unwrap();
    assert_eq!(outcome, Some(JobOutcome::Done { id }));
    assert!(fakes::leftover_temp_files(s.dir.path()).is_empty());
}

#[tokio::test]
async fn a_whole_recorded_call_through_the_simulator_is_transcribed_after_it_ends() {
    use kav_callsim::{CallScript, EndReason, SimConfig, Simulator, Turn};
    let (openai, fake) = fakes::fake_openai(&["מה שעות הפתיחה שלכם?", "תודה, להתראות", SAID]).await;
    let (store, dir) = sqlite_store().await;
    // The simulator's recordings host gets a fixed address, so `RECORDING_HOSTS` can name it.
    let recordings = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let host = RecordingsHost {
        origin: format!("http://{recordings}"),
        hits: std::sync::Arc::default(),
        wav: std::sync::Arc::default(),
    };
    let state = state(
        config(&openai, &host, &dir, &[("CALL_MODE", "record")]),
        store,
    );
    let server = fakes::serve(app(state.clone())).await;
    let sim = SimConfig::new(&server, BASE, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_recordings_addr(recordings)
        .with_recordings_linger(Duration::from_secs(60))
        .with_account_sid(ACCOUNT)
        .unwrap()
        .with_call_sid(SID)
        .unwrap()
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(5));
    let script = CallScript::new()
        .turn(Turn::text("מה שעות הפתיחה שלכם?"))
        .turn(Turn::text("תודה, להתראות"))
        .stay_on_line(true);
    let report = Simulator::new(sim).run(&script).await.unwrap();
    assert!(!report.has_errors(), "{}", report.transcript());
    // The scripted goodbye ended the call.
    assert_eq!(
        report.ended_by,
        EndReason::AgentHangup,
        "{}",
        report.transcript()
    );
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert!(
        turns[1]
            .reply
            .as_deref()
            .unwrap()
            .contains("Thank you for calling")
    );

    // Twilio posts the completed recording after the call: one job.
    let queued = wait_for(|| {
        let state = state.clone();
        async move { !jobs(&state).await.is_empty() }
    })
    .await;
    assert!(queued, "no job queued\n{}", report.transcript());
    let outcome = Worker::new(state.clone()).run_once().await.unwrap();
    assert!(
        matches!(outcome, Some(JobOutcome::Done { .. })),
        "{outcome:?}"
    );
    assert_eq!(jobs(&state).await.len(), 1);
    let transcripts = state.store().call_transcripts(SID).await.unwrap();
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    assert_eq!(transcripts[0].text.as_deref(), Some(SAID));
    assert!(transcripts[0].audio_ms.unwrap() > 1000);
    // Two turns and the whole call went through speech-to-text.
    assert_eq!(fake.stt_calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert!(fakes::leftover_temp_files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_again_after_its_lease() {
    let s = setup(&[]).await;
    send(&s.state, recording_status("completed", &s.host.url(REC))).await;
    let now = kav_server::store::now_millis();
    // A worker claims the job, then dies without a word.
    let dead = s
        .state
        .store()
        .claim_job(
            TRANSCRIBE_RECORDING,
            "dead-worker",
            kav_server::worker::JOB_LEASE,
            now,
        )
        .await
        .unwrap()
        .unwrap();
    let worker = Worker::new(s.state.clone());
    // While its lock holds, nobody else runs it.
    assert_eq!(worker.run_once_at(now + 1000).await.unwrap(), None);
    let expired = now + i64::try_from(kav_server::worker::JOB_LEASE.as_millis()).unwrap() + 1;
    let outcome = worker.run_once_at(expired).await.unwrap();
    assert_eq!(
        outcome,
        Some(JobOutcome::Done {
            id: dead.id.clone()
        })
    );
    let job = s.state.store().job(&dead.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 2));
    // The dead worker's late result is refused: its lock is gone.
    assert!(
        s.state
            .store()
            .complete_job(&dead, expired + 1)
            .await
            .is_err()
    );
    assert_eq!(
        s.state.store().call_transcripts(SID).await.unwrap()[0]
            .text
            .as_deref(),
        Some(SAID)
    );
}
