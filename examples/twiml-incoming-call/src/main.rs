//! Prints the TwiML that answers an incoming call in record mode: a greeting played from the
//! public base URL, then a `<Record>` whose action is the recording webhook.
//!
//! ```sh
//! cargo run -p twiml-incoming-call -- https://agent.example.com
//! ```
//!
//! A base URL without a scheme (`agent.example.com`) is refused with a one-line error and exit
//! code 2: Twilio would resolve such URLs relative to the webhook and the call would fail.

use std::process::ExitCode;

use kav_twiml::voice::{Play, Record, VoiceResponse};
use kav_twiml::{DtmfKeys, Error, HttpMethod, Trim, Url};

/// The incoming-call answer for the given public base URL.
fn incoming_call(base: &Url) -> Result<VoiceResponse, Error> {
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

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(base), None) = (args.next(), args.next()) else {
        eprintln!("usage: twiml-incoming-call <public base URL, e.g. https://agent.example.com>");
        return ExitCode::from(2);
    };
    let twiml = Url::parse(&base).and_then(|base| {
        if base.scheme() == Some("wss") {
            return Err(Error::InvalidUrl {
                value: base.to_string(),
                reason: "the public base URL must be http:// or https://",
            });
        }
        incoming_call(&base)
    });
    match twiml {
        Ok(twiml) => {
            println!("{twiml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: public base URL: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_play_and_record() {
        let base = Url::parse("https://agent.example.com").unwrap();
        assert_eq!(
            incoming_call(&base).unwrap().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
             <Play>https://agent.example.com/media/greeting.wav</Play>\
             <Record action=\"https://agent.example.com/webhook/handle_recording\" \
             finishOnKey=\"*\" maxLength=\"30\" method=\"POST\" playBeep=\"true\" \
             timeout=\"5\" trim=\"do-not-trim\"/></Response>"
        );
    }
}
