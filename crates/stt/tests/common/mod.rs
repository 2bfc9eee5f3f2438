//! Shared test helpers: audio generators, espeak-ng, the OpenAPI checker (the fake servers are
//! in `kav_testkit`).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::OnceLock;

use kav_testkit::FormField;
use serde_json::Value;

// ---------------------------------------------------------------- audio

/// A deterministic pseudo-random generator (64-bit LCG), so noise is the same on every run.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Uniform in -1..1.
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// White noise with the given RMS level in dBFS.
pub fn noise(samples: usize, rms_dbfs: f64, seed: u64) -> Vec<i16> {
    // Uniform noise in -a..a has RMS a/sqrt(3).
    let a = 32_768.0 * 10f64.powf(rms_dbfs / 20.0) * 3f64.sqrt();
    let mut rng = Lcg::new(seed);
    (0..samples)
        .map(|_| (rng.next_f64() * a).round().clamp(-32_768.0, 32_767.0) as i16)
        .collect()
}

/// A sine tone with the given peak level in dBFS.
pub fn tone(samples: usize, rate: u32, hz: f64, peak_dbfs: f64) -> Vec<i16> {
    let a = 32_767.0 * 10f64.powf(peak_dbfs / 20.0);
    (0..samples)
        .map(|n| (a * (2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate)).sin()) as i16)
        .collect()
}

/// Speech made by `espeak-ng -v he` at test time: (samples, rate) from its WAV.
pub fn espeak_he(text: &str) -> (Vec<i16>, u32) {
    let dir = std::env::temp_dir().join(format!("kav-stt-espeak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel and may speak the same text.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{:x}-{n}.wav", fxhash(text)));
    let out = std::process::Command::new("espeak-ng")
        .args(["-v", "he", "-w"])
        .arg(&path)
        .arg(text)
        .output()
        .expect("espeak-ng is needed for these tests: run scripts/install-test-deps.sh");
    assert!(out.status.success(), "espeak-ng failed: {out:?}");
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    parse_wav_pcm16_mono(&bytes)
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Parses a canonical PCM16 mono WAV (the test's own, independent reader).
pub fn parse_wav_pcm16_mono(bytes: &[u8]) -> (Vec<i16>, u32) {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let mut pos = 12;
    let mut rate = 0;
    let mut data = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => {
                assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM");
                assert_eq!(u16::from_le_bytes([body[2], body[3]]), 1, "mono");
                rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit");
            }
            b"data" => data = Some(body),
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    let data = data.expect("a data chunk");
    let samples = data
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (samples, rate)
}

// ---------------------------------------------------------------- OpenAPI checks

pub fn openai_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/openai_openapi.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    })
}

pub fn schema(name: &str) -> &'static Value {
    let s = &openai_spec()["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name} is not in the spec");
    s
}

fn resolve(s: &Value) -> &Value {
    let mut s = s;
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        s = schema(name);
    }
    s
}

/// A small JSON-schema checker for the subset the OpenAI spec uses: `$ref`, `type`, `enum`,
/// `required`, `properties`, `additionalProperties: false`, `items`, `minItems`, `anyOf`, `oneOf`
/// (checked as "at least one"), `allOf`.
pub fn validate(s: &Value, v: &Value, path: &str) -> Result<(), String> {
    let s = resolve(s);
    if let Some(any) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        let errs: Vec<String> = any
            .iter()
            .filter_map(|alt| validate(alt, v, path).err())
            .collect();
        if errs.len() == any.len() {
            return Err(format!("{path}: matches no alternative: {errs:?}"));
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(sub, v, path)?;
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        return Err(format!("{path}: {v} is not one of {values:?}"));
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        };
        if !ok {
            return Err(format!("{path}: {v} is not of type {t}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                return Err(format!("{path}: required field {req:?} is missing"));
            }
        }
        for (k, fv) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(ps, fv, &format!("{path}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: unknown field {k:?}"));
                }
                None => {}
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && (arr.len() as u64) < min
        {
            return Err(format!("{path}: fewer than {min} items"));
        }
        if let Some(items) = s.get("items") {
            for (i, item) in arr.iter().enumerate() {
                validate(items, item, &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// Coerces a multipart text value to JSON for the property schema `s` (multipart carries
/// strings; numbers and booleans are written as text, as OpenAI's SDKs do).
fn coerce(s: &Value, text: &str) -> Value {
    let s = resolve(s);
    let types: Vec<&str> = match s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        Some(alts) => alts
            .iter()
            .filter_map(|a| resolve(a).get("type").and_then(Value::as_str))
            .collect(),
        None => s.get("type").and_then(Value::as_str).into_iter().collect(),
    };
    if types.contains(&"number")
        && let Ok(n) = text.parse::<f64>()
    {
        return serde_json::json!(n);
    }
    if types.contains(&"integer")
        && let Ok(n) = text.parse::<i64>()
    {
        return serde_json::json!(n);
    }
    if types.contains(&"boolean") && matches!(text, "true" | "false") {
        return Value::Bool(text == "true");
    }
    Value::String(text.to_owned())
}

/// Checks a multipart body against `CreateTranscriptionRequest`: required fields, no unknown
/// field (the schema has `additionalProperties: false`), enum values, numbers; `name[]` fields
/// are array items; the `file` field must be a file part.
pub fn validate_transcription_form(fields: &[FormField]) -> Result<(), String> {
    let s = schema("CreateTranscriptionRequest");
    let props = s["properties"].as_object().unwrap();
    let mut obj = serde_json::Map::new();
    for f in fields {
        let (name, is_array) = match f.name.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (f.name.as_str(), false),
        };
        let Some(ps) = props.get(name) else {
            return Err(format!("unknown multipart field {:?}", f.name));
        };
        if name == "file" {
            if f.file_name.is_none() {
                return Err("`file` is not a file part (no filename)".into());
            }
            obj.insert("file".into(), Value::String("<binary>".into()));
            continue;
        }
        let ps = resolve(ps);
        if is_array {
            if ps.get("type").and_then(Value::as_str) != Some("array") {
                return Err(format!("{:?} is sent as an array but is not one", f.name));
            }
            let item = coerce(&ps["items"], f.text());
            obj.entry(name.to_owned())
                .or_insert_with(|| Value::Array(vec![]))
                .as_array_mut()
                .unwrap()
                .push(item);
        } else {
            if obj.contains_key(name) {
                return Err(format!("field {name:?} sent twice"));
            }
            obj.insert(name.to_owned(), coerce(ps, f.text()));
        }
    }
    validate(s, &Value::Object(obj), "CreateTranscriptionRequest")
}
