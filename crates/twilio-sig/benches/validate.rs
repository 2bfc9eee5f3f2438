//! Validations per second for a typical Twilio voice webhook (~20 form parameters).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kav_twilio_sig::{RequestValidator, SecretString};

/// The parameters of an incoming-call webhook, as Twilio sends them.
fn call_webhook() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AccountSid", "ACf0a1b2c3d4e5f60718293a4b5c6d7e8f"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"),
        ("CallStatus", "ringing"),
        (
            "CallToken",
            "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D",
        ),
        ("Called", "+97235551234"),
        ("CalledCity", ""),
        ("CalledCountry", "IL"),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", "+972525551234"),
        ("CallerCity", ""),
        ("CallerCountry", "IL"),
        ("CallerState", ""),
        ("CallerZip", ""),
        ("Direction", "inbound"),
        ("From", "+972525551234"),
        ("FromCity", ""),
        ("FromCountry", "IL"),
        ("To", "+97235551234"),
        ("ToCountry", "IL"),
    ]
}

fn bench(c: &mut Criterion) {
    let validator = RequestValidator::new(SecretString::from(
        "0123456789abcdef0123456789abcdef".to_owned(),
    ));
    let params = call_webhook();
    let url = "https://ai.example.com/webhook/incoming_call";
    let signature = validator.compute_signature(url, &params);
    assert!(validator.validate(url, &params, &signature).is_ok());

    let mut group = c.benchmark_group("twilio-sig");
    group.throughput(Throughput::Elements(1));
    group.bench_function("validate_call_webhook_21_params", |b| {
        b.iter(|| {
            validator.validate(
                std::hint::black_box(url),
                std::hint::black_box(&params),
                &signature,
            )
        });
    });
    // A refused request costs the most: both URL variants are tried before giving up.
    let wrong = validator.compute_signature("https://ai.example.com/webhook/other", &params);
    group.bench_function("refuse_call_webhook_21_params", |b| {
        b.iter(|| {
            validator
                .validate(
                    std::hint::black_box(url),
                    std::hint::black_box(&params),
                    &wrong,
                )
                .is_err()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
