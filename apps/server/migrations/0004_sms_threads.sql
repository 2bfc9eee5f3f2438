-- kav-server schema, version 4: SMS threads. Portable SQL (SQLite and PostgreSQL).
-- Inbound messages keep the agent's reply (sent back as Messaging TwiML, so it has no SID of its
-- own) or why there was none; delivery status callbacks keep Twilio's error code.

ALTER TABLE sms ADD COLUMN reply TEXT;
ALTER TABLE sms ADD COLUMN reply_error TEXT;
ALTER TABLE sms ADD COLUMN error_code TEXT;

-- A thread is every message from (inbound) or to (outbound) one number.
CREATE INDEX sms_from_number ON sms (from_number, created_at);
CREATE INDEX sms_to_number ON sms (to_number, created_at);
CREATE INDEX sms_created_at ON sms (created_at);
