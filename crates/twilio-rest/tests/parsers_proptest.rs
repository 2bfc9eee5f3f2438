//! Property tests: every parser of outside input (webhook values, Twilio's answers) returns a
//! value or a typed error, never panics, and what it accepts round-trips.

use kav_twilio_rest::{
    AccountSid, ApiError, CallSid, Credentials, Endpoint, HostAllowList, MessageSid, PhoneNumber,
    RecordingFormat, RecordingSid, SecretString, TwilioClient,
};
use proptest::prelude::*;

fn client() -> TwilioClient {
    let creds = Credentials::auth_token(
        AccountSid::new("AC0123456789abcdef0123456789abcdef").unwrap(),
        SecretString::from("tok"),
    )
    .unwrap();
    TwilioClient::new(creds).unwrap()
}

proptest! {
    #[test]
    fn identifiers_never_panic_and_round_trip(s in "\\PC{0,40}") {
        if let Ok(p) = PhoneNumber::new(s.clone()) { prop_assert_eq!(p.as_str(), s.as_str()); }
        if let Ok(e) = Endpoint::parse(&s) { prop_assert_eq!(e.as_str(), s.as_str()); }
        if let Ok(c) = CallSid::new(s.clone()) { prop_assert_eq!(c.as_str(), s.as_str()); }
        let _ = MessageSid::new(s.clone());
        let _ = RecordingSid::new(s.clone());
        let _ = HostAllowList::empty().allow(&s);
    }

    #[test]
    fn sids_accept_exactly_prefix_and_32_hex(hex in "[0-9a-fA-F]{32}", junk in "[g-zG-Z]") {
        let ok_call = CallSid::new(format!("CA{hex}")).is_ok();
        let ok_rec = RecordingSid::new(format!("RE{hex}")).is_ok();
        let ok_mms = MessageSid::new(format!("MM{hex}")).is_ok();
        let bad_char = CallSid::new(format!("CA{}{junk}", &hex[1..])).is_err();
        let bad_prefix = CallSid::new(format!("RE{hex}")).is_err();
        prop_assert!(ok_call && ok_rec && ok_mms && bad_char && bad_prefix);
    }

    #[test]
    fn recording_urls_never_panic(s in "\\PC{0,80}", path in "[a-zA-Z0-9/._%-]{0,40}") {
        let c = client();
        for candidate in [s.clone(), format!("https://api.twilio.com/{path}"), format!("https://{s}")] {
            if let Ok(u) = c.recording_media_url(&candidate, RecordingFormat::Mp3) {
                prop_assert!(u.path().ends_with(".mp3"));
                prop_assert_eq!(u.scheme(), "https");
                prop_assert!(HostAllowList::twilio().allows(&u));
            }
        }
    }

    #[test]
    fn error_bodies_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let e = ApiError::from_response(status, &body);
        prop_assert_eq!(e.status, status);
        let _ = e.to_string();
    }
}
