//! The store on SQLite (always) and PostgreSQL (when `KAV_TEST_POSTGRES_URL` is set): the same
//! checks run on both.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{PgSchema, sqlite_store};
use kav_server::Error;
use kav_server::store::{
    CallQuery, CallStatusEvent, FailOutcome, JobState, RecordingEvent, Store, Turn, backoff,
    now_millis,
};
use serde_json::json;

const SID: &str = "CA0123456789abcdef0123456789abcdef";

fn event(status: &str, sequence: Option<i64>) -> CallStatusEvent {
    CallStatusEvent {
        call_sid: SID.to_owned(),
        status: status.to_owned(),
        sequence,
        timestamp: None,
        account_sid: Some("AC0123456789abcdef0123456789abcdef".to_owned()),
        from: Some("+972501234567".to_owned()),
        to: Some("+97231234567".to_owned()),
        direction: Some("inbound".to_owned()),
        duration_s: (status == "completed").then_some(42),
        params: vec![("CallStatus".to_owned(), status.to_owned())],
    }
}

async fn call_status_is_idempotent(store: &Store) {
    let now = 1_700_000_000_000;
    assert!(
        store
            .record_call_status(&event("ringing", Some(0)), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_call_status(&event("ringing", Some(0)), now + 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_call_status(&event("in-progress", Some(1)), now + 2)
            .await
            .unwrap()
    );
    assert_eq!(store.active_call_count().await.unwrap(), 1);
    assert!(
        store
            .record_call_status(&event("completed", Some(2)), now + 3)
            .await
            .unwrap()
    );
    // A late, replayed earlier event changes neither the events nor the call.
    assert!(
        !store
            .record_call_status(&event("in-progress", Some(1)), now + 4)
            .await
            .unwrap()
    );
    assert_eq!(store.status_event_count(SID).await.unwrap(), 3);
    let call = store.call(SID).await.unwrap().unwrap();
    assert_eq!(call.status, "completed");
    assert_eq!(call.started_at, now);
    assert_eq!(call.ended_at, Some(now + 3));
    assert_eq!(call.duration_s, Some(42));
    assert_eq!(call.from.as_deref(), Some("+972501234567"));
    assert_eq!(store.active_call_count().await.unwrap(), 0);
    // Out of order: an older event arriving after a newer one is stored but does not
    // move the call's status back.
    let other = "CAffffffffffffffffffffffffffffffff";
    let mut late = event("completed", Some(5));
    late.call_sid = other.to_owned();
    store.record_call_status(&late, now).await.unwrap();
    let mut early = event("ringing", Some(1));
    early.call_sid = other.to_owned();
    assert!(store.record_call_status(&early, now + 1).await.unwrap());
    assert_eq!(
        store.call(other).await.unwrap().unwrap().status,
        "completed"
    );
    assert_eq!(store.call("CAnothing").await.unwrap(), None);
}

async fn turns_round_trip(store: &Store) {
    let turn = Turn {
        call_sid: SID.to_owned(),
        index: 0,
        transcript: Some("שלום".to_owned()),
        reply: Some("שלום! איך אפשר לעזור?".to_owned()),
        recording_ref: Some("RE0123".to_owned()),
        tts_audio_id: None,
        stt_ms: Some(800),
        llm_ms: Some(900),
        tts_ms: Some(300),
        error: None,
    };
    let second = Turn {
        index: 1,
        error: Some("stt timeout".to_owned()),
        ..Turn::default()
    };
    let second = Turn {
        call_sid: SID.to_owned(),
        ..second
    };
    store.save_turn(&second, 2).await.unwrap();
    store.save_turn(&turn, 1).await.unwrap();
    assert_eq!(store.turns(SID).await.unwrap(), vec![turn.clone(), second]);
    // Saving the same index again replaces it.
    let fixed = Turn {
        reply: Some("תודה".to_owned()),
        ..turn
    };
    store.save_turn(&fixed, 3).await.unwrap();
    assert_eq!(store.turns(SID).await.unwrap()[0], fixed);
}

async fn jobs_retry_park_and_reclaim(store: &Store) {
    let t0 = 1_700_000_000_000;
    let lease = Duration::from_secs(60);
    let payload = json!({"recording_sid": "RE1", "n": 1});
    let id = store
        .enqueue_job("transcribe", &payload, 2, t0, t0)
        .await
        .unwrap();
    // Other kinds and future jobs are not claimed.
    assert!(
        store
            .claim_job("other", "w1", lease, t0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_job("transcribe", "w1", lease, t0 - 1)
            .await
            .unwrap()
            .is_none()
    );

    let job = store
        .claim_job("transcribe", "w1", lease, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.id.as_str(), job.attempts), (id.as_str(), 1));
    assert_eq!(job.payload, payload);
    // Held: nobody else gets it.
    assert!(
        store
            .claim_job("transcribe", "w2", lease, t0 + 1)
            .await
            .unwrap()
            .is_none()
    );

    // First failure: back to the queue after the backoff.
    let outcome = store.fail_job(&job, "provider 503", t0 + 10).await.unwrap();
    let retry_at = t0 + 10 + i64::try_from(backoff(1).as_millis()).unwrap();
    assert_eq!(
        outcome,
        FailOutcome::Retry {
            run_after: retry_at
        }
    );
    // Failing twice with the same claim is refused.
    assert!(matches!(
        store.fail_job(&job, "again", t0 + 11).await,
        Err(Error::JobNotHeld { .. })
    ));
    assert!(
        store
            .claim_job("transcribe", "w2", lease, retry_at - 1)
            .await
            .unwrap()
            .is_none()
    );
    let record = store.job(&id).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Queued);
    assert_eq!(record.last_error.as_deref(), Some("provider 503"));

    // Second attempt: the worker dies; its lock expires and the job is taken again.
    let job = store
        .claim_job("transcribe", "w2", lease, retry_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.attempts, 2);
    let expired = retry_at + 60_001;
    // No attempt left: the expired job is parked, not run a third time.
    assert!(
        store
            .claim_job("transcribe", "w3", lease, expired)
            .await
            .unwrap()
            .is_none()
    );
    let record = store.job(&id).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Parked);
    assert!(record.last_error.unwrap().contains("lock expired"));
    assert!(store.complete_job(&job, expired).await.is_err());

    // A job with attempts left is reclaimed after a crash, and the old claim is void.
    let id = store
        .enqueue_job("transcribe", &json!(null), 3, t0, t0)
        .await
        .unwrap();
    let first = store
        .claim_job("transcribe", "crashed", lease, t0)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .claim_job("transcribe", "w4", lease, t0 + 60_001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.id.as_str(), second.attempts), (id.as_str(), 2));
    assert!(matches!(
        store.complete_job(&first, t0 + 60_002).await,
        Err(Error::JobNotHeld { .. })
    ));
    store.complete_job(&second, t0 + 60_003).await.unwrap();
    assert_eq!(store.job(&id).await.unwrap().unwrap().state, JobState::Done);

    // Failing the last attempt parks.
    let id = store
        .enqueue_job("mail", &json!({}), 1, t0, t0)
        .await
        .unwrap();
    let job = store
        .claim_job("mail", "w5", lease, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.fail_job(&job, "bad", t0).await.unwrap(),
        FailOutcome::Parked
    );
    assert_eq!(
        store.job(&id).await.unwrap().unwrap().state,
        JobState::Parked
    );
    assert!(
        store
            .claim_job("mail", "w5", lease, t0 + 10_000_000)
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_claimers_never_share(store: &Store) {
    let now = now_millis();
    let mut ids = HashSet::new();
    for i in 0..60 {
        ids.insert(
            store
                .enqueue_job("race", &json!({ "i": i }), 3, now, now)
                .await
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = store
                .claim_job("race", &format!("worker{w}"), Duration::from_secs(300), now)
                .await
                .unwrap()
            {
                store.complete_job(&job, now).await.unwrap();
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 60, "a job was claimed twice or lost");
    assert_eq!(unique, ids);
}

async fn audio_files(store: &Store) {
    let id = store
        .save_audio(b"RIFF....WAVE", "audio/wav", 1)
        .await
        .unwrap();
    let file = store.audio(&id).await.unwrap().unwrap();
    assert_eq!(file.content_type, "audio/wav");
    assert_eq!(std::fs::read(&file.path).unwrap(), b"RIFF....WAVE");
    store.delete_audio(&id).await.unwrap();
    assert_eq!(store.audio(&id).await.unwrap(), None);
    assert!(!file.path.exists());
}

async fn all(store: &Store) {
    store.ping().await.unwrap();
    call_status_is_idempotent(store).await;
    turns_round_trip(store).await;
    jobs_retry_park_and_reclaim(store).await;
    concurrent_claimers_never_share(store).await;
    audio_files(store).await;
    recording_events_are_idempotent(store).await;
    call_history(store).await;
    outbound_calls_and_sms(store).await;
    recordings_queue_one_job_and_keep_transcripts(store).await;
    jobs_are_released_and_parked(store).await;
}

async fn recordings_queue_one_job_and_keep_transcripts(store: &Store) {
    use kav_server::store::transcripts::{CallTranscript, NewJob, TranscriptSegment};
    let kind = "transcribe_test";
    let event = RecordingEvent {
        recording_sid: "RE00000000000000000000000000000abc".to_owned(),
        status: "completed".to_owned(),
        call_sid: Some("CA00000000000000000000000000000abc".to_owned()),
        recording_url: Some("https://api.twilio.com/x".to_owned()),
        duration_s: Some(30),
        params: Vec::new(),
    };
    let payload = serde_json::json!({"recording_sid": event.recording_sid});
    let job = || NewJob {
        kind,
        payload: &payload,
        max_attempts: 2,
    };
    let (new, id) = store
        .record_recording_and_enqueue(&event, Some(job()), 100)
        .await
        .unwrap();
    assert!(new);
    let id = id.unwrap();
    // Replays store nothing and queue nothing, concurrently too.
    let replays = futures_util::future::join_all(
        (0..4).map(|_| store.record_recording_and_enqueue(&event, Some(job()), 101)),
    )
    .await;
    assert!(replays.into_iter().all(|r| r.unwrap() == (false, None)));
    let jobs = store.jobs_of_kind(kind).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].id.as_str(), jobs[0].run_after), (id.as_str(), 100));
    let claimed = store
        .claim_job(kind, "w", Duration::from_secs(60), 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.payload, payload);
    store.complete_job(&claimed, 101).await.unwrap();

    let call = event.call_sid.clone();
    let mut transcript = CallTranscript {
        recording_sid: event.recording_sid.clone(),
        call_sid: call.clone(),
        text: Some("שלום עולם".to_owned()),
        segments: vec![TranscriptSegment {
            start_ms: 0,
            end_ms: 1500,
            text: "שלום עולם".to_owned(),
        }],
        language: Some("he".to_owned()),
        provider: Some("openai".to_owned()),
        audio_ms: Some(30_000),
        stt_ms: Some(900),
        error: None,
        created_at: 200,
    };
    store.save_call_transcript(&transcript, 200).await.unwrap();
    // A second run of the same job replaces the transcript, keeping when it was first stored.
    transcript.text = Some("שלום עולם!".to_owned());
    store.save_call_transcript(&transcript, 300).await.unwrap();
    let stored = store
        .call_transcripts(call.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(stored, [transcript.clone()]);
    assert_eq!(
        store.call_transcript(&event.recording_sid).await.unwrap(),
        Some(transcript)
    );
    assert!(store.call_transcripts("CA-none").await.unwrap().is_empty());
}

async fn jobs_are_released_and_parked(store: &Store) {
    let kind = "release_test";
    let payload = serde_json::json!({});
    let lease = Duration::from_secs(60);
    let id = store.enqueue_job(kind, &payload, 3, 0, 0).await.unwrap();
    let job = store
        .claim_job(kind, "a", lease, 10)
        .await
        .unwrap()
        .unwrap();
    store.release_job(&job, 20).await.unwrap();
    assert!(matches!(
        store.release_job(&job, 21).await,
        Err(Error::JobNotHeld { .. })
    ));
    let record = store.job(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.state, record.attempts, record.run_after),
        (JobState::Queued, 0, 20)
    );
    let job = store
        .claim_job(kind, "b", lease, 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.attempts, 1);
    store.park_job(&job, "not a WAV file", 30).await.unwrap();
    let record = store.job(&id).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Parked);
    assert_eq!(record.last_error.as_deref(), Some("not a WAV file"));
    assert!(
        store
            .claim_job(kind, "c", lease, 1_000_000)
            .await
            .unwrap()
            .is_none()
    );
}

async fn outbound_calls_and_sms(store: &Store) {
    let sid = "CA00000000000000000000000000000b0b";
    let call = kav_server::store::OutboundCall {
        sid: sid.to_owned(),
        status: "queued".to_owned(),
        from: "+97231234567".to_owned(),
        to: "+972501234567".to_owned(),
        context_id: Some("ctx-1".to_owned()),
        mode: Some("record".to_owned()),
    };
    store.record_outbound_call(&call, 1).await.unwrap();
    store.set_call_context(sid, "other").await.unwrap();
    let row = store.call(sid).await.unwrap().unwrap();
    assert_eq!(row.direction.as_deref(), Some("outbound-api"));
    assert_eq!(row.context_id.as_deref(), Some("ctx-1"));
    assert_eq!(row.mode.as_deref(), Some("record"));
    let sms = kav_server::store::OutboundSms {
        sid: "SM00000000000000000000000000000b0b".to_owned(),
        status: "queued".to_owned(),
        from: "+97231234567".to_owned(),
        to: "+972501234567".to_owned(),
        body: "hi".to_owned(),
        context_id: None,
    };
    store.record_sms_status(&sms.sid, "sent", 2).await.unwrap();
    store.record_outbound_sms(&sms, 1).await.unwrap();
    let row = store.sms(&sms.sid).await.unwrap().unwrap();
    assert_eq!(row.status.as_deref(), Some("sent"));
    assert_eq!(row.body.as_deref(), Some("hi"));
}

async fn recording_events_are_idempotent(store: &Store) {
    let event = RecordingEvent {
        recording_sid: "RE0123456789abcdef0123456789abcdef".to_owned(),
        status: "completed".to_owned(),
        call_sid: Some(SID.to_owned()),
        recording_url: Some("https://api.twilio.com/x".to_owned()),
        duration_s: Some(3),
        params: vec![("RecordingStatus".to_owned(), "completed".to_owned())],
    };
    assert!(store.record_recording_event(&event, 1).await.unwrap());
    assert!(!store.record_recording_event(&event, 2).await.unwrap());
    let events = store.recording_events(&event.recording_sid).await.unwrap();
    assert_eq!(
        events,
        [(
            "completed".to_owned(),
            Some("https://api.twilio.com/x".to_owned()),
            Some(3)
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    let (store, dir) = sqlite_store().await;
    assert_eq!(store.backend_name(), "sqlite");
    all(&store).await;
    // The file is in WAL mode, and migrations are idempotent on reopen.
    store.close().await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        dir.path().join("kav.db").display()
    ))
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    sqlx::Connection::close(conn).await.unwrap();
    let url = format!("sqlite://{}", dir.path().join("kav.db").display());
    let again = Store::connect(&url, dir.path()).await.unwrap();
    assert_eq!(again.status_event_count(SID).await.unwrap(), 3);
}

#[tokio::test]
async fn sqlite_file_and_folder_are_created() {
    let dir = common::TempDir::new();
    let nested = dir.path().join("a/b");
    let url = format!("sqlite://{}", nested.join("kav.db").display());
    let store = Store::connect(&url, &nested).await.unwrap();
    store.ping().await.unwrap();
    assert!(nested.join("kav.db").exists());
    assert!(nested.join("audio").is_dir());
    store.close().await;
    assert!(store.ping().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    let Some(pg) = PgSchema::new().await else {
        return;
    };
    assert_eq!(pg.store.backend_name(), "postgres");
    all(&pg.store).await;
    // Migrations are idempotent on reconnect.
    let again = Store::connect(&pg.url, std::env::temp_dir().as_path())
        .await
        .unwrap();
    assert_eq!(again.status_event_count(SID).await.unwrap(), 3);
    again.close().await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn both_backends_define_the_same_tables_and_columns() {
    let (sqlite, _dir) = sqlite_store().await;
    let columns = sqlite.schema_columns().await.unwrap();
    let tables: HashSet<&str> = columns.iter().map(|(t, _)| t.as_str()).collect();
    for table in [
        "calls",
        "call_status_events",
        "turns",
        "sms",
        "jobs",
        "audio",
        "recording_events",
        "call_transcripts",
    ] {
        assert!(tables.contains(table), "{table} missing: {columns:?}");
    }
    let Some(pg) = PgSchema::new().await else {
        return;
    };
    assert_eq!(pg.store.schema_columns().await.unwrap(), columns);
    pg.drop_schema().await;
}

/// Calls in a window of their own (2030), so the other checks' calls never match.
async fn call_history(store: &Store) {
    let base = 1_900_000_000_000;
    let sid = |i: usize| format!("CA{i:032x}");
    for i in 0..5 {
        let mut e = event("ringing", Some(0));
        e.call_sid = sid(i);
        e.from = Some(
            if i % 2 == 0 {
                "+15550000001"
            } else {
                "+15550000002"
            }
            .to_owned(),
        );
        e.to = Some("+15559999999".to_owned());
        // Calls 3 and 4 start in the same millisecond: the sid breaks the tie.
        let at = base + i64::try_from(i.min(3)).unwrap() * 1000;
        store.record_call_status(&e, at).await.unwrap();
    }
    let mut done = event("completed", Some(1));
    done.call_sid = sid(0);
    store
        .record_call_status(&done, base + 10_000)
        .await
        .unwrap();
    for (index, text) in [(1, "second"), (0, "first words")] {
        let turn = Turn {
            call_sid: sid(0),
            index,
            transcript: Some(text.to_owned()),
            ..Turn::default()
        };
        store.save_turn(&turn, base + 20_000).await.unwrap();
    }
    let window = |limit| {
        let mut q = CallQuery::newest(limit);
        q.from = Some(base);
        q.to = Some(base + 86_400_000);
        q
    };
    let sids = |calls: &[kav_server::store::CallSummary]| {
        calls.iter().map(|c| c.sid.clone()).collect::<Vec<_>>()
    };
    let all = store.list_calls(&window(10)).await.unwrap();
    assert_eq!(sids(&all), [sid(4), sid(3), sid(2), sid(1), sid(0)]);
    assert_eq!(all[4].first_transcript.as_deref(), Some("first words"));
    assert_eq!(all[4].status, "completed");
    assert_eq!(all[4].duration_s, Some(42));
    assert_eq!(all[0].first_transcript, None);
    // Cursor paging: after sid(3) come sid(2) and sid(1); the tie at the same ms is kept.
    let mut q = window(2);
    q.before = Some((all[0].started_at, all[0].sid.clone()));
    assert_eq!(sids(&store.list_calls(&q).await.unwrap()), [sid(3), sid(2)]);
    let mut q = window(2);
    q.offset = 2;
    assert_eq!(sids(&store.list_calls(&q).await.unwrap()), [sid(2), sid(1)]);
    let mut q = window(10);
    q.number = Some("+15550000002".to_owned());
    assert_eq!(sids(&store.list_calls(&q).await.unwrap()), [sid(3), sid(1)]);
    q.number = Some("+15559999999".to_owned());
    assert_eq!(store.list_calls(&q).await.unwrap().len(), 5);
    let mut q = window(10);
    q.status = Some("completed".to_owned());
    assert_eq!(sids(&store.list_calls(&q).await.unwrap()), [sid(0)]);
    let mut q = window(10);
    q.to = Some(base + 1000);
    assert_eq!(sids(&store.list_calls(&q).await.unwrap()), [sid(0)]);
    let summary = store.call_summary(&sid(0)).await.unwrap().unwrap();
    assert_eq!(summary, all[4]);
    assert_eq!(store.call_summary(&sid(99)).await.unwrap(), None);
    let timeline: Vec<(String, i64)> = store
        .status_events(&sid(0))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.status, e.received_at))
        .collect();
    assert_eq!(
        timeline,
        [
            ("ringing".to_owned(), base),
            ("completed".to_owned(), base + 10_000)
        ]
    );
}
