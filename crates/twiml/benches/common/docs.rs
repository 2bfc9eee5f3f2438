//! The benchmark documents, shared by the benches, the `bench_docs` example (which prints them
//! for `scripts/twiml-bench.sh`) and the differential test (which checks them against
//! twilio-python).

use kav_twiml::voice::*;
use kav_twiml::{
    CardType, Digits, DtmfKeys, GatherInput, HttpMethod, PayPromptFor, StreamTrack, Trim, Url,
    WssUrl,
};

/// The incoming-call answer of record mode: `<Play>` of the greeting, then `<Record>`.
pub(crate) fn incoming_call(base: &str) -> Result<VoiceResponse, kav_twiml::Error> {
    let base = Url::parse(base)?;
    Ok(VoiceResponse::new()
        .play(Play::new(base.join("/media/greeting.wav")?))
        .record(
            Record::new()
                .finish_on_key(DtmfKeys::new("*")?)
                .timeout(5)
                .max_length(30)
                .play_beep(true)
                .action(base.join("/webhook/handle_recording")?)
                .method(HttpMethod::Post)
                .trim(Trim::DoNotTrim),
        ))
}

/// A document with 20 verbs (and nested nouns), Hebrew text and characters to escape.
pub(crate) fn twenty_verbs(base: &str) -> Result<VoiceResponse, kav_twiml::Error> {
    let base = Url::parse(base)?;
    let wss = WssUrl::parse("wss://agent.example.com/ws/twilio-media")?;
    Ok(VoiceResponse::new()
        .say(
            Say::new("שלום, הגעתם לשירות הלקוחות")
                .voice("Google.he-IL-Standard-A")
                .language("he-IL"),
        )
        .play(Play::new(base.join("/media/intro.wav")?).loop_(2))
        .pause(Pause::new().length(1))
        .gather(
            Gather::new()
                .input([GatherInput::Speech, GatherInput::Dtmf])
                .action(base.join("/webhook/gather")?)
                .timeout(5)
                .language("he-IL")
                .say(Say::new("במה אפשר לעזור?"))
                .play(Play::new(base.join("/media/beep.wav")?))
                .pause(Pause::new().length(2)),
        )
        .record(
            Record::new()
                .action(base.join("/webhook/handle_recording")?)
                .max_length(30)
                .play_beep(true)
                .trim(Trim::TrimSilence),
        )
        .say(Say::new("Tom & Jerry <3 \"quotes\"").voice("Polly.Joanna"))
        .play(Play::empty().digits(Digits::new("ww1234#")?))
        .dial(
            Dial::new()
                .caller_id("+15550001111")
                .timeout(20)
                .number(Number::new("+972501234567")),
        )
        .enqueue(Enqueue::new("support").task(Task::new("{\"lang\":\"he\"}")))
        .redirect(Redirect::new(base.join("/webhook/next")?).method(HttpMethod::Post))
        .sms(Sms::new("תודה שהתקשרתם").to("+972501234567"))
        .start(
            Start::new().stream(
                Stream::new()
                    .url(wss.clone())
                    .track(StreamTrack::InboundTrack),
            ),
        )
        .stop(Stop::new().stream(Stream::new().name("recorder")))
        .connect(
            Connect::new().stream(
                Stream::new()
                    .url(wss)
                    .parameter(Parameter::new().name("callSid").value("CA123")),
            ),
        )
        .pay(
            Pay::new()
                .charge_amount("10.00")
                .valid_card_types([CardType::Visa, CardType::Mastercard])
                .prompt(
                    Prompt::new()
                        .for_(PayPromptFor::PaymentCardNumber)
                        .say(Say::new("Card number please")),
                ),
        )
        .refer(Refer::new().sip(ReferSip::new("sip:agent@example.com")))
        .reject(Reject::new())
        .echo(Echo::new())
        .leave(Leave::new())
        .hangup(Hangup::new()))
}
