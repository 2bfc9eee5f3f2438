-- kav-server schema, version 3: post-call transcripts of full-call recordings
-- (KAV_RECORD_CALLS). Portable SQL (SQLite and PostgreSQL).

CREATE TABLE call_transcripts (
    recording_sid TEXT PRIMARY KEY,
    call_sid TEXT,
    transcript TEXT,
    segments TEXT NOT NULL,
    language TEXT,
    provider TEXT,
    audio_ms BIGINT,
    stt_ms BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX call_transcripts_call ON call_transcripts (call_sid);
