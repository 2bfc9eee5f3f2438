//! Every published vector: Twilio's "Webhooks security" guide, twilio-python's
//! `tests/unit/test_request_validator.py`, twilio-java's `RequestValidatorTest`, twilio-node's
//! `spec/unit/webhooks/webhooks.spec.js` and the JSON snippet of twilio-samples/api-snippets.

use kav_twilio_sig::{
    Algorithm, Payload, RequestValidator, SecretString, SigError, TokenSlot, body_sha256_hex,
    compute_signature, compute_signature_with, url_variants,
};

const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const BODY: &str = "{\"property\": \"value\", \"boolean\": true}";
const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn validator() -> RequestValidator {
    RequestValidator::new(secret("12345"))
}

/// twilio-python / twilio-java `setUp`.
fn library_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
}

/// The worked example of Twilio's "Webhooks security" guide (auth token 12345).
#[test]
fn twilio_docs_example() {
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    assert_eq!(
        compute_signature(&secret("12345"), URL, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    let verified = validator()
        .validate(URL, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        .unwrap();
    assert_eq!(verified.url, URL);
    assert_eq!(verified.token, TokenSlot::Primary);
    // Any change to a value, a name, or the URL breaks it.
    let mut tampered = params;
    tampered[2].1 = "9999";
    assert!(matches!(
        validator().validate(URL, &tampered, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        Err(SigError::Mismatch { .. })
    ));
    assert!(
        validator()
            .validate(
                "https://mycompany.com/myapp.php?foo=1&bar=3",
                &params,
                "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
            )
            .is_err()
    );
}

#[test]
fn python_compute_signature() {
    assert_eq!(
        validator().compute_signature(URL, &library_params()),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    // Order of the parameters does not matter.
    let mut reversed = library_params();
    reversed.reverse();
    assert_eq!(
        validator().compute_signature(URL, &reversed),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
}

#[test]
fn python_compute_hash_unicode() {
    assert_eq!(body_sha256_hex(BODY.as_bytes()), BODY_HASH);
}

/// `test_compute_signature_duplicate_multi_dict` / `_query_dict`: repeated names are sorted by
/// value.
#[test]
fn python_duplicate_keys() {
    let params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        validator().compute_signature(URL, &params),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    assert!(
        validator()
            .validate(URL, &params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
            .is_ok()
    );
    // twilio-python iterates `sorted(set(values))`: an exact duplicate pair counts once.
    let doubled = [
        ("Sid", "CA123"),
        ("Digits", "1234"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        validator().compute_signature(URL, &doubled),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
}

#[test]
fn python_and_java_validation() {
    assert!(
        validator()
            .validate(URL, &library_params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            .is_ok()
    );
    // twilio-java testFailsWhenIncorrect.
    assert!(
        validator()
            .validate(URL, &library_params(), "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8=")
            .is_err()
    );
}

#[test]
fn removes_port_on_https() {
    let url = URL.replace(".com", ".com:1234");
    let verified = validator()
        .validate(&url, &library_params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .unwrap();
    assert_eq!(verified.url, URL);
}

#[test]
fn removes_port_on_http() {
    // "hash of http uri with port 1234"
    let url = URL.replace(".com", ".com:1234").replace("https", "http");
    let verified = validator()
        .validate(&url, &library_params(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")
        .unwrap();
    assert_eq!(verified.url, url);
}

#[test]
fn adds_port_on_https() {
    // "hash of uri with port 443"
    let verified = validator()
        .validate(URL, &library_params(), "kvajT1Ptam85bY51eRf/AJRuM3w=")
        .unwrap();
    assert_eq!(
        verified.url,
        "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    );
}

#[test]
fn adds_port_on_http() {
    // "hash of uri with port 80"
    let url = URL.replace("https", "http");
    let verified = validator()
        .validate(&url, &library_params(), "0ZXoZLH/DfblKGATFgpif+LLRf4=")
        .unwrap();
    assert_eq!(
        verified.url,
        "http://mycompany.com:80/myapp.php?foo=1&bar=2"
    );
}

#[test]
fn validation_of_body_succeeds() {
    let url = format!("{URL}&bodySHA256={BODY_HASH}");
    assert!(
        validator()
            .validate_json(&url, BODY.as_bytes(), "a9nBmqA0ju/hNViExpshrM61xv4=")
            .is_ok()
    );
    // The same URL with another body: the hash no longer matches.
    assert!(matches!(
        validator().validate_json(&url, b"{}", "a9nBmqA0ju/hNViExpshrM61xv4="),
        Err(SigError::BodyHashMismatch { .. })
    ));
}

/// twilio-java `testValidateWithNoOtherParameters`.
#[test]
fn java_body_with_no_other_parameters() {
    let url = format!("https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}");
    assert!(
        validator()
            .validate_json(&url, BODY.as_bytes(), "y77kIzt2vzLz71DgmJGsen2scGs=")
            .is_ok()
    );
}

/// twilio-java `testValidateBodyWithoutSignature`: a JSON body on a URL without `bodySHA256`.
#[test]
fn java_body_without_body_hash_fails() {
    assert!(matches!(
        validator().validate_json(URL, BODY.as_bytes(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        Err(SigError::MissingBodyHash { .. })
    ));
}

/// twilio-samples/api-snippets `security/signature_validation_json`: the `bodySHA256` of its body.
#[test]
fn api_snippets_body_hash() {
    assert_eq!(
        body_sha256_hex(br#"{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}"#),
        "5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9"
    );
}

/// twilio-node `spec/unit/webhooks/webhooks.spec.js` (token `s3cr3t`, no parameters).
#[test]
fn node_port_cases() {
    let token = secret("s3cr3t");
    let validator = RequestValidator::new(token.clone());
    let none: [(&str, &str); 0] = [];
    let check = |server: &str, target: &str| {
        let signature = compute_signature(&token, server, &none);
        validator.validate(target, &none, &signature).is_ok()
    };
    assert!(!check(
        "https://example.com/path?test=param",
        "https://example.com/path?test=param2"
    ));
    assert!(check(
        "https://example.com:443/path?test=param",
        "https://example.com:443/path?test=param"
    ));
    assert!(check(
        "https://example.com:443/path?test=param",
        "https://example.com/path?test=param"
    ));
    assert!(check(
        "https://example.com/path?test=param",
        "https://example.com/path?test=param"
    ));
    assert!(check(
        "https://example.com/path?test=param",
        "https://example.com:443/path?test=param"
    ));
    assert!(check(
        "https://example.com/path?test=param'WithQuote",
        "https://example.com/path?test=param'WithQuote"
    ));
    assert!(check(
        "https://example.com/path?test=param%27WithQuote",
        "https://example.com/path?test=param%27WithQuote"
    ));
    // twilio-node also accepts `'` against `%27` because WHATWG URL parsing re-encodes the
    // query; twilio-python (our reference) compares the URL as received, and so do we.
    assert!(!check(
        "https://example.com/path?test=param'WithQuote",
        "https://example.com/path?test=param%27WithQuote"
    ));
}

/// A SharedKey webhook signed with HMAC-SHA256. The value is twilio-python 9.13.0's
/// `compute_signature(URL, params, "HMAC_SHA256")` for the docs example.
#[test]
fn hmac_sha256_shared_key() {
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    let sig = "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M=";
    assert_eq!(
        compute_signature_with(&secret("12345"), Algorithm::HmacSha256, URL, &params),
        sig
    );
    let sorted: Vec<(&str, &str)> = params.to_vec();
    assert!(
        validator()
            .verify(&[URL], Payload::Form(&sorted), sig, Algorithm::HmacSha256)
            .is_ok()
    );
    // The SHA-1 signature is not accepted when the settings ask for SHA-256, and vice versa.
    assert!(
        validator()
            .verify(
                &[URL],
                Payload::Form(&sorted),
                "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
                Algorithm::HmacSha256
            )
            .is_err()
    );
    assert!(validator().validate(URL, &params, sig).is_err());
}

#[test]
fn secondary_token_for_rotation() {
    let params = library_params();
    let old = secret("old-token");
    let signature = compute_signature(&old, URL, &params);
    let rotating = RequestValidator::new(secret("12345")).with_secondary(old);
    let verified = rotating.validate(URL, &params, &signature).unwrap();
    assert_eq!(verified.token, TokenSlot::Secondary);
    let verified = rotating
        .validate(URL, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .unwrap();
    assert_eq!(verified.token, TokenSlot::Primary);
    assert!(
        validator().validate(URL, &params, &signature).is_err(),
        "without the secondary the old token is refused"
    );
}

#[test]
fn mismatch_reports_the_urls_tried() {
    let err = validator()
        .validate(URL, &library_params(), "AvajT1Ptam85bY51eRf/AJRuM3w=")
        .unwrap_err();
    assert_eq!(
        err.tried_urls(),
        [
            "https://mycompany.com/myapp.php?foo=1&bar=2".to_owned(),
            "https://mycompany.com:443/myapp.php?foo=1&bar=2".to_owned()
        ]
    );
    assert_eq!(
        err.to_string(),
        "X-Twilio-Signature does not match the request"
    );
}

#[test]
fn variants_match_the_library_tests() {
    let v = url_variants("http://mycompany.com:1234/myapp.php?foo=1&bar=2").unwrap();
    assert_eq!(v.without_port, "http://mycompany.com/myapp.php?foo=1&bar=2");
    assert_eq!(
        v.with_port,
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2"
    );
}
