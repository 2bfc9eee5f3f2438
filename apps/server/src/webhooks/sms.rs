//! `POST /webhook/sms`: an inbound message. It is stored once (by `MessageSid`) and, with
//! `KAV_SMS_REPLY` on (the default), answered with the agent's reply as Messaging TwiML
//! (`<Response><Message>…</Message></Response>`). Whatever fails — the store, the language
//! model, its deadline — the answer is 200 with an empty `<Response/>`, never a 5xx, so Twilio
//! sends nothing rather than an error.
//!
//! A replayed webhook (same `MessageSid`) gets the reply stored the first time, without asking
//! the model again; a message from our own number is never answered (no loops).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kav_llm::{Conversation, ConversationConfig};
use kav_twiml::messaging::{Message, MessagingResponse};

use crate::app::AppState;
use crate::store::now_millis;
use crate::store::sms::{InboundSms, SmsMessage};

/// How long the store may take for one operation.
const STORE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest `Body` accepted, and the longest reply sent (Twilio's limit, in characters).
pub(crate) const MAX_BODY_CHARS: usize = 1600;
/// The longest `From`/`To` accepted.
const MAX_ADDRESS_LEN: usize = 64;
/// How many earlier messages of the thread the model sees.
const HISTORY_MESSAGES: i64 = 12;

/// Whether `sid` is a message SID: `SM` or `MM` and 32 alphanumerics.
pub(crate) fn valid_message_sid(sid: &str) -> bool {
    crate::sid::valid("SM", sid) || crate::sid::valid("MM", sid)
}

/// Whether `address` is a plausible `From`/`To`: an E.164 number, a short code, an
/// alphanumeric sender id or a channel address (`whatsapp:+972…`); 1 to 64 of
/// `A-Z a-z 0-9 + : - _ . @`.
pub(crate) fn valid_address(address: &str) -> bool {
    !address.is_empty()
        && address.len() <= MAX_ADDRESS_LEN
        && address.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b':' | b'-' | b'_' | b'.' | b'@')
        })
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The message of a webhook's form parameters, validated.
pub(crate) fn parse(params: &[(String, String)]) -> Result<InboundSms, &'static str> {
    let sid = get(params, "MessageSid")
        .or_else(|| get(params, "SmsSid"))
        .ok_or("no MessageSid")?;
    if !valid_message_sid(sid) {
        return Err("MessageSid is not SM/MM followed by 32 characters");
    }
    let from = get(params, "From").ok_or("no From")?;
    let to = get(params, "To").ok_or("no To")?;
    if !valid_address(from) || !valid_address(to) {
        return Err("From or To is not a phone number or sender id");
    }
    // The text as sent (not trimmed), without control characters other than line breaks.
    let body = params
        .iter()
        .find(|(k, _)| k == "Body")
        .map_or("", |(_, v)| v.as_str());
    if body.chars().count() > MAX_BODY_CHARS {
        return Err("Body is longer than 1600 characters");
    }
    let body: String = body
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    Ok(InboundSms {
        sid: sid.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
        body,
    })
}

fn messaging(response: &MessagingResponse) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        response.to_xml(),
    )
        .into_response()
}

fn empty() -> Response {
    messaging(&MessagingResponse::new())
}

fn reply_twiml(reply: &str) -> Response {
    messaging(&MessagingResponse::new().message(Message::new(reply)))
}

/// The first `max` characters of `text`.
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

pub(crate) async fn handle(State(state): State<AppState>, body: Bytes) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let sms = match parse(&params) {
        Ok(sms) => sms,
        Err(reason) => {
            tracing::warn!(%reason, "inbound sms refused (400)");
            return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response();
        }
    };
    let now = now_millis();
    let row = super::stored(
        "sms message",
        STORE_TIMEOUT,
        state.store().record_inbound_sms(&sms, now),
    )
    .await;
    tracing::info!(
        message_sid = %sms.sid,
        new = row.as_ref().map(|(new, _)| *new),
        chars = sms.body.chars().count(),
        "inbound sms"
    );
    if let Some((false, earlier)) = &row {
        // A replayed webhook: the same answer as the first time, without a second reply.
        return match &earlier.reply {
            Some(reply) => reply_twiml(reply),
            None => empty(),
        };
    }
    let config = state.config();
    let own_number = config.twilio_phone_number() == Some(sms.from.as_str());
    let outcome = if !config.sms_reply() {
        Err("replies are off (KAV_SMS_REPLY=false)".to_owned())
    } else if own_number {
        Err("sent from our own number: not answered".to_owned())
    } else if sms.body.trim().is_empty() {
        Err("no text".to_owned())
    } else {
        answer(&state, &sms, config.turn_timeout()).await
    };
    let store_ok = row.is_some();
    if store_ok {
        let outcome = outcome.as_deref().map_err(String::as_str);
        super::stored(
            "sms reply",
            STORE_TIMEOUT,
            state.store().set_sms_reply(&sms.sid, outcome, now_millis()),
        )
        .await;
    }
    match outcome {
        Ok(reply) => {
            tracing::info!(message_sid = %sms.sid, chars = reply.chars().count(), "sms answered");
            reply_twiml(&reply)
        }
        Err(reason) => {
            tracing::info!(message_sid = %sms.sid, %reason, "sms not answered");
            empty()
        }
    }
}

/// The model's reply to `sms`, given the thread's earlier messages, within `deadline`.
async fn answer(state: &AppState, sms: &InboundSms, deadline: Duration) -> Result<String, String> {
    let started = Instant::now();
    let history = tokio::time::timeout(
        STORE_TIMEOUT.min(deadline),
        state.store().sms_thread(&sms.from, HISTORY_MESSAGES + 1),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    let mut conversation = Conversation::new(
        &ConversationConfig::default().with_system_prompt(state.config().system_prompt()),
    )
    .map_err(|e| crate::error_chain(&e))?;
    for message in history.iter().filter(|m| m.sid != sms.sid) {
        push_history(&mut conversation, message);
    }
    conversation.push_user(sms.body.clone());
    let remaining = deadline.saturating_sub(started.elapsed());
    let (text, _) = super::model_reply(state, conversation.messages(), remaining).await?;
    Ok(cut(&text, MAX_BODY_CHARS).to_owned())
}

/// An earlier message as conversation history: what the peer wrote is the user's, what we
/// sent (an API message or a reply) the assistant's.
fn push_history(conversation: &mut Conversation, message: &SmsMessage) {
    let Some(body) = message.body.as_deref().filter(|b| !b.trim().is_empty()) else {
        return;
    };
    if message.is_inbound() {
        conversation.push_user(body.to_owned());
        if let Some(reply) = &message.reply {
            conversation.push_assistant(reply.clone());
        }
    } else {
        conversation.push_assistant(body.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const SID: &str = "SM0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_a_message() {
        let sms = parse(&params(&[
            ("MessageSid", SID),
            ("From", "+972501234567"),
            ("To", "+97231234567"),
            ("Body", "שלום\u{0}\n"),
        ]))
        .unwrap();
        assert_eq!(sms.sid, SID);
        assert_eq!(sms.from, "+972501234567");
        assert_eq!(sms.body, "שלום\n");
        let picture = parse(&params(&[
            ("SmsSid", "MM0123456789abcdef0123456789abcdef"),
            ("From", "whatsapp:+972501234567"),
            ("To", "whatsapp:+97231234567"),
        ]))
        .unwrap();
        assert_eq!(picture.body, "");
    }

    #[test]
    fn refuses_malformed_messages() {
        let long = "א".repeat(MAX_BODY_CHARS + 1);
        let ok_len = "א".repeat(MAX_BODY_CHARS);
        assert!(
            parse(&params(&[
                ("MessageSid", SID),
                ("From", "+1"),
                ("To", "+2"),
                ("Body", &ok_len)
            ]))
            .is_ok()
        );
        for bad in [
            params(&[("From", "+1"), ("To", "+2")]),
            params(&[("MessageSid", "SM1"), ("From", "+1"), ("To", "+2")]),
            params(&[
                ("MessageSid", "CA0123456789abcdef0123456789abcdef"),
                ("From", "+1"),
                ("To", "+2"),
            ]),
            params(&[("MessageSid", SID), ("To", "+2")]),
            params(&[("MessageSid", SID), ("From", "+1")]),
            params(&[("MessageSid", SID), ("From", "<b>"), ("To", "+2")]),
            params(&[("MessageSid", SID), ("From", &"1".repeat(65)), ("To", "+2")]),
            params(&[
                ("MessageSid", SID),
                ("From", "+1"),
                ("To", "+2"),
                ("Body", &long),
            ]),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut("שלום", 2), "של");
        assert_eq!(cut("hi", 5), "hi");
    }
}
