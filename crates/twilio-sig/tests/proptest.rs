//! Untrusted input never panics: header parsing, `Forwarded` parsing, URL handling, signatures.

use http::{HeaderName, HeaderValue, Method, Request};
use kav_twilio_sig::{
    Algorithm, Payload, PublicBaseUrl, RequestValidator, Scheme, SecretString, UrlSource,
    candidate_urls, compute_signature, parse_forwarded, url_variants,
};
use proptest::prelude::*;

fn sources() -> Vec<UrlSource> {
    vec![
        UrlSource::configured("https://ai.example.com/agent").unwrap(),
        UrlSource::TrustedProxy {
            fallback_scheme: Scheme::Https,
        },
        UrlSource::Request {
            scheme: Scheme::Http,
        },
    ]
}

/// Header values as a proxy or an attacker may send them: any visible ASCII plus obs-text.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..60),
        "[a-zA-Z0-9=;,\":\\[\\]\\\\ ./-]{0,60}".prop_map(String::into_bytes),
        "(host=)?\\[?[a-z0-9:.]{0,12}\\]?(:[0-9]{0,7})?".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn forwarded_parsing_is_total(value in any::<String>()) {
        let elements = parse_forwarded(&value);
        prop_assert!(!elements.is_empty());
    }

    #[test]
    fn forwarded_like_input_is_total(value in "[a-zA-Z=;,\" \\\\]{0,80}") {
        let _ = parse_forwarded(&value);
    }

    #[test]
    fn url_variants_are_total_and_stable(url in any::<String>()) {
        if let Ok(variants) = url_variants(&url) {
            // Both variants are URLs again, and a variant's own variants include it.
            let again = url_variants(&variants.without_port).unwrap();
            prop_assert!(again.without_port == variants.without_port || again.with_port == variants.without_port);
            prop_assert!(url_variants(&variants.with_port).is_ok());
        }
    }

    #[test]
    fn url_like_input_is_total(url in "(https?|wss?|HTTP|ftp)?:?/{0,3}[a-z0-9@:\\[\\]%.]{0,20}(/[a-z0-9;%@:]{0,8}){0,3}\\??[a-z0-9=&%#]{0,12}") {
        if let Ok(variants) = url_variants(&url) {
            prop_assert!(variants.with_port.contains("://"));
        }
    }

    #[test]
    fn settings_header_is_total(value in any::<String>()) {
        let _ = Algorithm::from_settings_header(Some(&value));
    }

    #[test]
    fn base_url_parsing_is_total(value in any::<String>()) {
        if let Ok(base) = PublicBaseUrl::parse(&value) {
            prop_assert!(url_variants(&base.join("/webhook/x?a=1")).is_ok(), "{}", base);
            prop_assert!(url_variants(&base.join_websocket("/ws")).is_ok(), "{}", base);
        }
    }

    #[test]
    fn candidate_urls_are_total(
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("host"), Just("forwarded"), Just("x-forwarded-proto"),
                Just("x-forwarded-host"), Just("x-forwarded-port"), Just("upgrade"),
            ], header_bytes()),
            0..8,
        ),
        path in "/[a-zA-Z0-9/%;._~-]{0,30}(\\?[a-zA-Z0-9=&%]{0,20})?",
        get in any::<bool>(),
    ) {
        let method = if get { Method::GET } else { Method::POST };
        let mut request = Request::builder().method(method).uri(path.as_str()).body(()).unwrap();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                request.headers_mut().append(HeaderName::from_static(name), value);
            }
        }
        let (parts, ()) = request.into_parts();
        for source in sources() {
            if let Ok(urls) = candidate_urls(&parts, &source) {
                prop_assert!(!urls.is_empty());
                for url in &urls {
                    // Anything we rebuild is a URL the validator accepts to try.
                    prop_assert!(url_variants(url).is_ok(), "{url}");
                }
            }
        }
    }

    #[test]
    fn verify_is_total(
        signature in any::<String>(),
        url in "https?://[a-z.]{1,12}(:[0-9]{1,6})?/[a-z/]{0,10}(\\?[a-z=&]{0,10})?",
        params in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let validator = RequestValidator::new(SecretString::from("t".to_owned()));
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for algorithm in [Algorithm::HmacSha1, Algorithm::HmacSha256] {
            let _ = validator.verify(&[&url], Payload::Form(&pairs), &signature, algorithm);
            let _ = validator.verify(&[&url], Payload::Json(&body), &signature, algorithm);
        }
    }

    #[test]
    fn parameter_order_does_not_matter(
        params in proptest::collection::vec(("[A-Za-zא-ת]{0,4}", "\\PC{0,6}"), 0..12),
        rotate in 0usize..12,
    ) {
        let token = SecretString::from("12345".to_owned());
        let url = "https://h.example/x";
        let mut shuffled = params.clone();
        if !shuffled.is_empty() {
            let n = rotate % shuffled.len();
            shuffled.rotate_left(n);
            shuffled.reverse();
        }
        let signature = compute_signature(&token, url, &params);
        prop_assert_eq!(&signature, &compute_signature(&token, url, &shuffled));
        prop_assert!(RequestValidator::new(token).validate(url, &shuffled, &signature).is_ok());
    }
}
