-- kav-server schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Times are Unix milliseconds (BIGINT); JSON is stored as TEXT; ids are text.

CREATE TABLE calls (
    sid TEXT PRIMARY KEY,
    account_sid TEXT,
    from_number TEXT,
    to_number TEXT,
    direction TEXT,
    status TEXT NOT NULL,
    status_sequence BIGINT NOT NULL DEFAULT -1,
    mode TEXT,
    context_id TEXT,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at BIGINT,
    duration_s BIGINT
);

CREATE INDEX calls_started_at ON calls (started_at);

CREATE TABLE call_status_events (
    call_sid TEXT NOT NULL,
    status TEXT NOT NULL,
    sequence_key TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    params TEXT NOT NULL,
    PRIMARY KEY (call_sid, status, sequence_key)
);

CREATE TABLE turns (
    call_sid TEXT NOT NULL,
    turn_index BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    transcript TEXT,
    reply TEXT,
    recording_ref TEXT,
    tts_audio_id TEXT,
    stt_ms BIGINT,
    llm_ms BIGINT,
    tts_ms BIGINT,
    error TEXT,
    PRIMARY KEY (call_sid, turn_index)
);

CREATE TABLE sms (
    sid TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    from_number TEXT,
    to_number TEXT,
    body TEXT,
    status TEXT,
    context_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    last_error TEXT,
    locked_by TEXT,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX jobs_ready ON jobs (state, run_after);

CREATE TABLE audio (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
