-- kav-server schema, version 2: recording status callbacks. Portable SQL (SQLite and PostgreSQL).

CREATE TABLE recording_events (
    recording_sid TEXT NOT NULL,
    status TEXT NOT NULL,
    call_sid TEXT,
    recording_url TEXT,
    duration_s BIGINT,
    received_at BIGINT NOT NULL,
    params TEXT NOT NULL,
    PRIMARY KEY (recording_sid, status)
);

CREATE INDEX recording_events_call ON recording_events (call_sid);
