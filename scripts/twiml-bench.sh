#!/usr/bin/env bash
# Measures kav-twiml beside twilio-python on the same two documents (BENCHMARKS.md, ## kav-twiml):
# the incoming-call answer (Play + Record) and a 20-verb document, built and rendered to text.
# Usage: scripts/twiml-bench.sh [criterion args]   (default: short runs)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${KAV_PYTHON:-.venv/bin/python}
[ -x "$py" ] || { echo "no $py: run scripts/install-test-deps.sh first" >&2; exit 1; }

rust_xml=$(mktemp)
trap 'rm -f "$rust_xml"' EXIT
cargo run -q --release -p kav-twiml --example bench_docs >"$rust_xml"

echo "== twilio-python $("$py" -c 'import twilio; print(twilio.__version__)') ($("$py" --version))"
"$py" - "$rust_xml" <<'PY'
import sys, timeit
import xml.etree.ElementTree as ET
from twilio.twiml.voice_response import VoiceResponse, Gather, Dial, Enqueue, Start, Stop, Connect, Pay, Prompt, Refer

BASE = "https://agent.example.com"

def incoming_call():
    r = VoiceResponse()
    r.play(BASE + "/media/greeting.wav")
    r.record(finish_on_key="*", timeout=5, max_length=30, play_beep=True,
             action=BASE + "/webhook/handle_recording", method="POST", trim="do-not-trim")
    return r.to_xml()

def twenty_verbs():
    wss = "wss://agent.example.com/ws/twilio-media"
    r = VoiceResponse()
    r.say("שלום, הגעתם לשירות הלקוחות", voice="Google.he-IL-Standard-A", language="he-IL")
    r.play(BASE + "/media/intro.wav", loop=2)
    r.pause(length=1)
    g = r.gather(input="speech dtmf", action=BASE + "/webhook/gather", timeout=5, language="he-IL")
    g.say("במה אפשר לעזור?")
    g.play(BASE + "/media/beep.wav")
    g.pause(length=2)
    r.record(action=BASE + "/webhook/handle_recording", max_length=30, play_beep=True, trim="trim-silence")
    r.say('Tom & Jerry <3 "quotes"', voice="Polly.Joanna")
    r.play(digits="ww1234#")
    d = r.dial(caller_id="+15550001111", timeout=20)
    d.number("+972501234567")
    e = r.enqueue("support")
    e.task('{"lang":"he"}')
    r.redirect(BASE + "/webhook/next", method="POST")
    r.sms("תודה שהתקשרתם", to="+972501234567")
    s = r.start()
    s.stream(url=wss, track="inbound_track")
    st = r.stop()
    st.stream(name="recorder")
    c = r.connect()
    c.stream(url=wss).parameter(name="callSid", value="CA123")
    p = r.pay(charge_amount="10.00", valid_card_types="visa mastercard")
    p.prompt(for_="payment-card-number").say("Card number please")
    r.refer().sip("sip:agent@example.com")
    r.reject()
    r.echo()
    r.leave()
    r.hangup()
    return r.to_xml()

def canon(el):
    return (el.tag, sorted(el.attrib.items()), (el.text or ""), [canon(c) + ((c.tail or ""),) for c in el])

rust = open(sys.argv[1], encoding="utf-8").read().splitlines()
for (name, build), rust_xml in zip([("incoming_call", incoming_call), ("twenty_verbs", twenty_verbs)], rust):
    same = canon(ET.fromstring(build().encode())) == canon(ET.fromstring(rust_xml.encode()))
    assert same, f"{name}: twilio-python and kav-twiml documents differ"
    for label, fn in [("build_and_render", build),
                      ("parse", lambda x=rust_xml.encode(): ET.fromstring(x))]:
        timer = timeit.Timer(fn)
        n, _ = timer.autorange()
        best = min(timer.repeat(repeat=5, number=n)) / n
        print(f"twiml/{name}/{label:<18} {best * 1e6:9.2f} µs per document  (same XML as kav-twiml: {same})")
PY

echo "== kav-twiml (criterion)"
if [ $# -eq 0 ]; then set -- --warm-up-time 1 --measurement-time 3; fi
cargo bench -q -p kav-twiml --bench twiml -- "$@" 2>&1 | grep -E "^twiml/|time:"
