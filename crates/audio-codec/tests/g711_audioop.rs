//! Differential test: G.711 against CPython's `audioop` over every sample value and every code.

mod common;

use kav_audio_codec::g711;

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn g711_matches_audioop_on_every_value() {
    let Some(python) = common::python() else {
        return;
    };
    let out = common::run_peer(&python, "g711_peer.py", b"");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("peer JSON");

    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let ulaw_ref = hex_decode(v["lin2ulaw"].as_str().expect("lin2ulaw"));
    let alaw_ref = hex_decode(v["lin2alaw"].as_str().expect("lin2alaw"));
    assert_eq!(ulaw_ref.len(), 65_536);
    assert_eq!(alaw_ref.len(), 65_536);

    let ulaw = g711::ulaw_encode(&all);
    let alaw = g711::alaw_encode(&all);
    let mut ulaw_into = vec![0u8; all.len()];
    let mut alaw_into = vec![0u8; all.len()];
    assert_eq!(g711::ulaw_encode_into(&all, &mut ulaw_into), all.len());
    assert_eq!(g711::alaw_encode_into(&all, &mut alaw_into), all.len());
    for (i, &s) in all.iter().enumerate() {
        assert_eq!(ulaw[i], ulaw_ref[i], "lin2ulaw({s})");
        assert_eq!(alaw[i], alaw_ref[i], "lin2alaw({s})");
    }
    assert_eq!(ulaw_into, ulaw_ref);
    assert_eq!(alaw_into, alaw_ref);

    let codes: Vec<u8> = (0..=255).collect();
    let parse = |key: &str| -> Vec<i16> {
        v[key]
            .as_array()
            .expect("array")
            .iter()
            .map(|x| i16::try_from(x.as_i64().expect("int")).expect("i16"))
            .collect()
    };
    let ulaw_lin_ref = parse("ulaw2lin");
    let alaw_lin_ref = parse("alaw2lin");
    assert_eq!(g711::ulaw_decode(&codes), ulaw_lin_ref);
    assert_eq!(g711::alaw_decode(&codes), alaw_lin_ref);
    let mut dec = vec![0i16; 256];
    assert_eq!(g711::ulaw_decode_into(&codes, &mut dec), 256);
    assert_eq!(dec, ulaw_lin_ref);
    assert_eq!(g711::alaw_decode_into(&codes, &mut dec), 256);
    assert_eq!(dec, alaw_lin_ref);
}
