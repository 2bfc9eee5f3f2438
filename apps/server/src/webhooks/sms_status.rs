//! `POST /webhook/sms_status`: store a message's delivery status, answer 200 whatever happens.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::store::now_millis;

/// How long the store may take before the status is given up.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// `MessageSid` (`SM`/`MM` + 32 alphanumerics) and `MessageStatus` (lower-case letters and
/// `-`, at most 32), validated.
pub(crate) fn parse(params: &[(String, String)]) -> Result<(String, String), &'static str> {
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
    if sid.len() != 34
        || !(sid.starts_with("SM") || sid.starts_with("MM"))
        || !sid[2..].bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err("MessageSid is not SM/MM followed by 32 characters");
    }
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or("no MessageStatus")?;
    if status.len() > 32 || !status.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return Err("MessageStatus is not a status word");
    }
    Ok((sid, status))
}

pub(crate) async fn handle(State(state): State<AppState>, body: Bytes) -> StatusCode {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (sid, status) = match parse(&params) {
        Ok(ok) => ok,
        Err(reason) => {
            tracing::warn!(%reason, "sms status ignored");
            return StatusCode::OK;
        }
    };
    let stored = tokio::time::timeout(
        STORE_TIMEOUT,
        state.store().record_sms_status(&sid, &status, now_millis()),
    )
    .await;
    match stored {
        Ok(Ok(())) => tracing::info!(message_sid = %sid, %status, "sms status stored"),
        Ok(Err(error)) => tracing::error!(
            message_sid = %sid,
            error = %crate::error_chain(&error),
            "sms status NOT stored: store error"
        ),
        Err(_) => tracing::error!(
            message_sid = %sid,
            "sms status NOT stored: the store did not answer in time"
        ),
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
            (sid.to_owned(), "delivered".to_owned())
        );
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
