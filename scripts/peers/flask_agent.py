"""Gather-mode phone agent in Flask: the Python peer of kav-server in scripts/server-bench.sh.

The same flow as kav-server with CALL_MODE=gather, KAV_LLM=scripted, KAV_TTS=off, written the
way the project's original Flask sketches (/work/shared/seeds/) and Twilio's Python tutorials
write it:

- Flask routes, served by gunicorn (sync workers) in production;
- twilio-python's RequestValidator checks X-Twilio-Signature on every webhook (403 otherwise),
  against the public URL: PUBLIC_BASE_URL + path + query when it is set, else the URL rebuilt
  from X-Forwarded-Proto / X-Forwarded-Host (werkzeug's ProxyFix, as behind a TLS proxy);
- twilio-python's VoiceResponse / Gather build the TwiML;
- the stdlib sqlite3 stores calls, one row per status event and one row per turn (WAL journal,
  synchronous=NORMAL, 5 s busy timeout: kav-server's SQLite settings);
- a scripted keyword responder (kav-llm's built-in rules, no network) answers the caller; its
  `goodbye` rule ends the call with <Hangup/>.

Run:  TWILIO_AUTH_TOKEN=... PUBLIC_BASE_URL=https://agent.example.com PEER_DB=/tmp/peer.db \
      gunicorn --workers 5 --bind 127.0.0.1:8081 --chdir scripts/peers flask_agent:app
"""

import json
import os
import re
import sqlite3
import time

from flask import Flask, Response, abort, g, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse
from werkzeug.middleware.proxy_fix import ProxyFix

AUTH_TOKEN = os.environ["TWILIO_AUTH_TOKEN"]
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
DB_PATH = os.environ.get("PEER_DB", "peer.db")
LANGUAGE = os.environ.get("KAV_LANGUAGE", "he-IL")
VOICE = os.environ.get("KAV_SAY_VOICE", "Google.he-IL-Standard-A")
MAX_FAILED_TURNS = 3

GREETING = (
    "שלום, הגעתם לשירות הלקוחות של המאפייה. במה אפשר לעזור? Hello, how can I help you?"
)
FALLBACK = "סליחה, לא שמעתי. אפשר לחזור על זה? Sorry, could you repeat that?"
GOODBYE = "תודה שהתקשרתם, להתראות. Thank you for calling, goodbye."
DEFAULT_REPLY = (
    "סליחה, לא הבנתי. אפשר לשאול על שעות הפתיחה, על מצב הזמנה, או לבקש לדבר עם נציג. "
    "Sorry, I did not understand. You can ask about opening hours, an order, or ask for a person."
)
# kav-llm's built-in rules (crates/llm/rules/default.toml): the first rule whose keyword starts
# a word of the caller's text (case-insensitive), or whose regex matches, gives the reply.
RULES = [
    ("goodbye", ["להתראות", "ביי", "תודה רבה זהו", "goodbye", "bye"], None,
     "תודה שהתקשרתם, יום נעים! Thank you for calling, goodbye!"),
    ("human", ["נציג", "נציגה", "בן אדם", "מישהו אמיתי", "מנהל", "human", "representative",
               "agent", "operator", "real person"], None,
     "אני מעבירה אתכם לנציג, נא להמתין על הקו. "
     "I am transferring you to a representative, please hold."),
    ("order-status", ["הזמנה", "משלוח", "הזמנתי", "order", "delivery", "shipment"],
     r"\b(where\s+is\s+my|track)\b",
     "כדי לבדוק את מצב ההזמנה, אנא אמרו את מספר ההזמנה שמופיע באישור. "
     "To check your order, please say the order number from your confirmation."),
    ("opening-hours", ["שעות", "פתוח", "פתוחים", "סגור", "סגורים", "מתי", "hours", "open",
                       "close", "when"], None,
     "אנחנו פתוחים בימים ראשון עד חמישי בין שמונה בבוקר לשמונה בערב, וביום שישי עד שתיים "
     "בצהריים. We are open Sunday to Thursday from 8 am to 8 pm, and Friday until 2 pm."),
]
COMPILED_RULES = [
    (name, re.compile("|".join(r"(?<!\w)" + re.escape(k) for k in keywords)),
     re.compile(regex) if regex else None, reply)
    for name, keywords, regex, reply in RULES
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    sid TEXT PRIMARY KEY, account_sid TEXT, from_number TEXT, to_number TEXT, direction TEXT,
    status TEXT NOT NULL, mode TEXT, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    ended_at INTEGER, duration_s INTEGER);
CREATE TABLE IF NOT EXISTS call_status_events (
    call_sid TEXT NOT NULL, status TEXT NOT NULL, sequence_key TEXT NOT NULL,
    received_at INTEGER NOT NULL, params TEXT NOT NULL,
    PRIMARY KEY (call_sid, status, sequence_key));
CREATE TABLE IF NOT EXISTS turns (
    call_sid TEXT NOT NULL, turn_index INTEGER NOT NULL, created_at INTEGER NOT NULL,
    transcript TEXT, reply TEXT, llm_ms INTEGER, error TEXT,
    PRIMARY KEY (call_sid, turn_index));
"""

app = Flask(__name__)
if not PUBLIC_BASE_URL:
    # Behind a TLS-terminating proxy: request.url is rebuilt from X-Forwarded-Proto/-Host.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)
validator = RequestValidator(AUTH_TOKEN)


def now_ms():
    return int(time.time() * 1000)


def get_db():
    if "db" not in g:
        db = sqlite3.connect(DB_PATH, timeout=5.0)
        db.execute("PRAGMA synchronous=NORMAL")
        g.db = db
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    db = sqlite3.connect(DB_PATH, timeout=5.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.commit()
    db.close()


init_db()


def public_url():
    """The URL Twilio signed: the configured public URL, or the one the proxy headers give."""
    if not PUBLIC_BASE_URL:
        return request.url
    query = request.query_string.decode("latin-1")
    return PUBLIC_BASE_URL + request.path + ("?" + query if query else "")


def base_url():
    return PUBLIC_BASE_URL or request.host_url.rstrip("/")


@app.before_request
def validate_twilio_signature():
    if request.path.startswith("/webhook/"):
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(public_url(), request.form, signature):
            abort(403)


def twiml(response):
    return Response(str(response), mimetype="text/xml")


def say(target, text):
    target.say(text, voice=VOICE, language=LANGUAGE)


def gather(response, turn, text=None):
    g_verb = Gather(input="speech", language=LANGUAGE, method="POST", speech_timeout="auto",
                    action=f"{base_url()}/webhook/gather?turn={turn}")
    if text:
        say(g_verb, text)
    response.append(g_verb)
    return response


def scripted_reply(text):
    normalized = " ".join(text.lower().split())
    for name, keywords, regex, reply in COMPILED_RULES:
        if keywords.search(normalized) or (regex and regex.search(text)):
            return name, reply
    return None, DEFAULT_REPLY


def record_call_status(db, form, mode=None):
    """Stores the status event once (a replay stores nothing twice) and creates or updates the
    call's row, like kav-server's Store::record_call_status."""
    call_sid, status = form.get("CallSid"), form.get("CallStatus")
    if not call_sid or not status:
        return
    t = now_ms()
    duration = form.get("CallDuration")
    with db:
        inserted = db.execute(
            "INSERT OR IGNORE INTO call_status_events (call_sid, status, sequence_key,"
            " received_at, params) VALUES (?, ?, ?, ?, ?)",
            (call_sid, status, form.get("SequenceNumber", "-"), t,
             json.dumps(form.to_dict(), ensure_ascii=False)),
        ).rowcount
        if inserted:
            db.execute(
                "INSERT INTO calls (sid, account_sid, from_number, to_number, direction,"
                " status, mode, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sid) DO UPDATE SET status = excluded.status,"
                " mode = COALESCE(calls.mode, excluded.mode), updated_at = excluded.updated_at",
                (call_sid, form.get("AccountSid"), form.get("From"), form.get("To"),
                 form.get("Direction"), status, mode, t, t),
            )
            if status in ("completed", "busy", "no-answer", "failed", "canceled"):
                db.execute("UPDATE calls SET ended_at = ?, duration_s = ? WHERE sid = ?",
                           (t, int(duration) if duration and duration.isdigit() else None,
                            call_sid))


@app.post("/webhook/incoming_call")
def incoming_call():
    record_call_status(get_db(), request.form, mode="gather")
    return twiml(gather(VoiceResponse(), 0, GREETING))


@app.post("/webhook/gather")
def gather_result():
    call_sid = request.form.get("CallSid", "")
    speech = request.form.get("SpeechResult", "").strip()
    try:
        index = int(request.args.get("turn", ""))
    except ValueError:
        index = None
    db = get_db()
    history = db.execute(
        "SELECT turn_index, transcript, reply, error FROM turns WHERE call_sid = ?"
        " ORDER BY turn_index", (call_sid,)).fetchall()
    next_index = history[-1][0] + 1 if history else 0
    replayed = next(((i, tr, rep, err) for i, tr, rep, err in history
                     if i == index and tr == speech), None)
    response = VoiceResponse()
    if replayed is not None:  # Twilio sent the same request again: the same answer, no new turn
        _, _, reply, error = replayed
        ends = reply is not None and scripted_reply(speech)[0] == "goodbye"
        say(response, FALLBACK if error else reply)
        if ends:
            response.hangup()
            return twiml(response)
        return twiml(gather(response, index + 1))
    if not speech:
        failed = 1
        for _, _, _, error in reversed(history):
            if not error:
                break
            failed += 1
        with db:
            db.execute("INSERT OR IGNORE INTO turns (call_sid, turn_index, created_at, error)"
                       " VALUES (?, ?, ?, 'no speech')", (call_sid, next_index, now_ms()))
        if failed >= MAX_FAILED_TURNS:
            say(response, GOODBYE)
            response.hangup()
            return twiml(response)
        say(response, FALLBACK)
        return twiml(gather(response, next_index + 1))
    started = time.perf_counter()
    rule, reply = scripted_reply(speech)
    llm_ms = int((time.perf_counter() - started) * 1000)
    with db:
        db.execute("INSERT OR IGNORE INTO turns (call_sid, turn_index, created_at, transcript,"
                   " reply, llm_ms) VALUES (?, ?, ?, ?, ?, ?)",
                   (call_sid, next_index, now_ms(), speech, reply, llm_ms))
    say(response, reply)
    if rule == "goodbye":
        response.hangup()
        return twiml(response)
    return twiml(gather(response, next_index + 1))


@app.post("/webhook/call_status")
def call_status():
    record_call_status(get_db(), request.form)
    return Response(status=200)


@app.get("/health")
def health():
    return "ok"
