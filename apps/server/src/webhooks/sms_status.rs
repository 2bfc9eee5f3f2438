//! `POST /webhook/sms_status`: store a message's delivery status (with `From`, `To` and
//! `ErrorCode` when sent), answer 200 whatever happens.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tracing::Instrument as _;

use crate::app::AppState;
use crate::store::now_millis;
use crate::store::sms::SmsDelivery;

/// How long the store may take before the status is given up.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// `MessageSid` (`SM`/`MM` + 32 alphanumerics) and `MessageStatus` (lower-case letters, `-`
/// and `_`, at most 32), validated; `From` and `To` kept when plausible, `ErrorCode` when it
/// is a number.
pub(crate) fn parse(params: &[(String, String)]) -> Result<SmsDelivery, &'static str> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or("no MessageSid")?;
    if !super::sms::valid_message_sid(&sid) {
        return Err("MessageSid is not SM/MM followed by 32 characters");
    }
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or("no MessageStatus")?;
    if status.len() > 32
        || !status
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
    {
        return Err("MessageStatus is not a status word");
    }
    let address = |name: &str| get(name).filter(|v| super::sms::valid_address(v));
    let error_code = get("ErrorCode")
        .filter(|v| v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) && v != "0");
    Ok(SmsDelivery {
        sid,
        status,
        from: address("From"),
        to: address("To"),
        error_code,
    })
}

pub(crate) async fn handle(State(state): State<AppState>, body: Bytes) -> StatusCode {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let delivery = match parse(&params) {
        Ok(delivery) => delivery,
        Err(reason) => {
            tracing::warn!(%reason, "sms status ignored");
            return StatusCode::OK;
        }
    };
    let SmsDelivery {
        sid,
        status,
        error_code,
        ..
    } = &delivery;
    let stored = super::stored(
        "sms status",
        STORE_TIMEOUT,
        state.store().record_sms_delivery(&delivery, now_millis()),
    )
    .instrument(tracing::error_span!("store", message_sid = %sid))
    .await;
    if stored.is_some() {
        tracing::info!(message_sid = %sid, %status, ?error_code, "sms status stored");
    }
    StatusCode::OK
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

    #[test]
    fn parses_and_refuses() {
        let sid = "SM0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse(&params(&[
                ("MessageSid", sid),
                ("MessageStatus", "delivered")
            ]))
            .unwrap(),
            SmsDelivery {
                sid: sid.to_owned(),
                status: "delivered".to_owned(),
                from: None,
                to: None,
                error_code: None,
            }
        );
        let failed = parse(&params(&[
            ("MessageSid", sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
            ("From", "+97231234567"),
            ("To", "<script>"),
        ]))
        .unwrap();
        assert_eq!(failed.error_code.as_deref(), Some("30003"));
        assert_eq!(failed.from.as_deref(), Some("+97231234567"));
        assert_eq!(failed.to, None);
        for bad in [
            params(&[("MessageStatus", "delivered")]),
            params(&[("MessageSid", "SM1"), ("MessageStatus", "sent")]),
            params(&[("MessageSid", sid)]),
            params(&[("MessageSid", sid), ("MessageStatus", "<b>")]),
        ] {
            assert!(parse(&bad).is_err());
        }
    }
}
