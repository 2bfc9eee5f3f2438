//! WAV: interoperability with hound and sox, and no panic on hostile input.

use std::io::Cursor;
use std::process::Command;

use kav_audio_codec::{Error, g711, wav};
use proptest::prelude::*;

fn tone(n: usize, channels: usize) -> Vec<i16> {
    (0..n * channels)
        .map(|i| ((i as f64 * 0.05).sin() * 20_000.0) as i16)
        .collect()
}

#[test]
fn hound_reads_what_we_write() {
    let s = tone(500, 2);
    let bytes = wav::encode_pcm16(&s, 44_100, 2);
    let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (44_100, 2, 16)
    );
    let back: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(back, s);
}

fn hound_file(bits: u16, float: bool, channels: u16, rate: u32, samples: &[f64]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut buf = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
    for &x in samples {
        match (float, bits) {
            (true, _) => w.write_sample(x as f32).unwrap(),
            (false, 8) => w.write_sample((x * 127.0).round() as i8).unwrap(),
            (false, 16) => w.write_sample((x * 32767.0).round() as i16).unwrap(),
            (false, 24) => w.write_sample((x * 8_388_607.0).round() as i32).unwrap(),
            _ => w
                .write_sample((x * 2_147_483_647.0).round() as i32)
                .unwrap(),
        }
    }
    w.finalize().unwrap();
    buf.into_inner()
}

#[test]
fn we_read_what_hound_writes() {
    let x: Vec<f64> = (0..600)
        .map(|i| (f64::from(i) * 0.03).sin() * 0.8)
        .collect();
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        for channels in [1u16, 2, 3] {
            let bytes = hound_file(bits, float, channels, 22_050, &x);
            let w = wav::decode(&bytes).unwrap_or_else(|e| panic!("{bits} {float}: {e}"));
            assert_eq!((w.sample_rate, w.channels), (22_050, channels));
            assert_eq!(w.samples.len(), x.len());
            // hound scales 8-bit by 127, we by 128: allow one step and the scale difference.
            let tol = if bits == 8 { 400.0 } else { 2.0 };
            for (a, b) in w.samples.iter().zip(&x) {
                assert!(
                    (f64::from(*a) - b * 32768.0).abs() <= tol,
                    "{bits} {float}: {a} vs {b}"
                );
            }
        }
    }
}

fn sox(args: &[&str]) -> Vec<u8> {
    let out = Command::new("sox")
        .args(args)
        .output()
        .expect("sox is needed for this test: run scripts/install-test-deps.sh");
    assert!(
        out.status.success(),
        "sox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn sox_g711_and_other_files_decode_like_sox() {
    let dir = std::env::temp_dir().join(format!("kav-wav-sox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[&str]); 6] = [
        (
            "mulaw",
            &["-e", "mu-law", "-b", "8", "-r", "8000", "-c", "1"],
        ),
        ("alaw", &["-e", "a-law", "-b", "8", "-r", "8000", "-c", "1"]),
        (
            "s16-stereo-44k",
            &["-e", "signed-integer", "-b", "16", "-r", "44100", "-c", "2"],
        ),
        (
            "s24",
            &["-e", "signed-integer", "-b", "24", "-r", "16000", "-c", "1"],
        ),
        (
            "f32",
            &["-e", "floating-point", "-b", "32", "-r", "48000", "-c", "2"],
        ),
        (
            "u8",
            &[
                "-e",
                "unsigned-integer",
                "-b",
                "8",
                "-r",
                "11025",
                "-c",
                "1",
            ],
        ),
    ];
    for (name, fmt) in cases {
        let path = dir.join(format!("{name}.wav"));
        let p = path.to_str().unwrap();
        let mut args = vec!["-n"];
        args.extend_from_slice(fmt);
        args.extend_from_slice(&[p, "synth", "0.2", "sine", "440", "vol", "0.7"]);
        sox(&args);
        let bytes = std::fs::read(&path).unwrap();
        let ours = wav::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // sox's own conversion to raw 16-bit, without dither.
        let raw = sox(&[
            "-D",
            p,
            "-t",
            "raw",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-",
        ]);
        let theirs: Vec<i16> = raw
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(ours.samples.len(), theirs.len(), "{name}");
        let max_diff = ours
            .samples
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        // G.711 and PCM16 must be exact; wider formats may round where we truncate.
        let tol = if matches!(name, "mulaw" | "alaw" | "s16-stereo-44k" | "u8") {
            0
        } else {
            1
        };
        assert!(max_diff <= tol, "{name}: differs from sox by {max_diff}");
        if name == "mulaw" {
            // And the codes we would write back are the codes sox wrote.
            let codes = g711::ulaw_encode(&ours.samples);
            let again = wav::encode_mulaw(&codes, 8_000);
            assert_eq!(wav::decode(&again).unwrap().samples, ours.samples);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decode_mono_downmixes_and_resamples() {
    let s = tone(4_410, 2); // 0.1 s at 44.1 kHz
    let bytes = wav::encode_pcm16(&s, 44_100, 2);
    let mono = wav::decode_mono(&bytes, 8_000).unwrap();
    assert_eq!(mono.len(), 800);
    let same = wav::decode_mono(&wav::encode_mulaw(&[0xFF; 160], 8_000), 8_000).unwrap();
    assert_eq!(same, vec![0; 160]);
}

#[test]
fn structural_errors_are_typed() {
    let good = wav::encode_pcm16(&[1, 2, 3, 4], 8_000, 1);
    // No data chunk.
    let mut no_data = good[..36].to_vec();
    no_data[4..8].copy_from_slice(&28u32.to_le_bytes());
    assert!(matches!(wav::decode(&no_data), Err(Error::MalformedWav(_))));
    // No fmt chunk.
    let mut no_fmt = b"RIFF\0\0\0\0WAVE".to_vec();
    no_fmt.extend_from_slice(&good[36..]);
    assert!(matches!(wav::decode(&no_fmt), Err(Error::MalformedWav(_))));
    // Zero channels, zero rate, ADPCM.
    let mut bad = good.clone();
    bad[22..24].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(wav::decode(&bad), Err(Error::InvalidChannels(_))));
    let mut bad = good.clone();
    bad[24..28].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(wav::decode(&bad), Err(Error::UnsupportedRate(0))));
    let mut bad = good.clone();
    bad[20..22].copy_from_slice(&2u16.to_le_bytes());
    let e = wav::decode(&bad).unwrap_err();
    assert!(matches!(
        e,
        Error::UnsupportedWavFormat {
            format_tag: 2,
            bits_per_sample: 16
        }
    ));
    assert!(e.to_string().contains("format tag 2"));
    // A chunk claiming 4 GiB before the data does not make us allocate or panic.
    let mut huge = good[..12].to_vec();
    huge.extend_from_slice(b"LIST\xff\xff\xff\xff");
    huge.extend_from_slice(&good[12..]);
    assert!(wav::decode(&huge).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = wav::decode(&bytes);
        let _ = wav::decode_mono(&bytes, 8_000);
    }

    #[test]
    fn mutated_wavs_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((0usize..120, any::<u8>()), 1..8),
        cut in 0usize..130,
    ) {
        let base = match which {
            0 => wav::encode_pcm16(&[1, -2, 3, -4, 5, -6, 7, -8], 16_000, 2),
            1 => wav::encode_mulaw(&[1, 2, 3, 4, 5, 6, 7], 8_000),
            2 => wav::encode_alaw(&[9; 40], 8_000),
            _ => hound_file(24, false, 2, 48_000, &[0.5, -0.5, 0.25, -0.25, 0.1, 0.9]),
        };
        let mut bytes = base;
        for (pos, val) in edits {
            if pos < bytes.len() {
                bytes[pos] = val;
            }
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        if let Ok(w) = wav::decode(&bytes) {
            prop_assert!(w.channels >= 1);
            prop_assert_eq!(w.samples.len() % usize::from(w.channels), 0);
            prop_assert!(w.samples.len() <= bytes.len());
        }
        let _ = wav::decode_mono(&bytes, 8_000);
    }
}

#[test]
fn sox_reads_the_g711_and_pcm16_files_we_write() {
    let dir = std::env::temp_dir().join(format!("kav-wav-ours-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = tone(801, 1); // odd length: exercises the RIFF pad byte
    let files = [
        (
            "mulaw",
            wav::encode_mulaw(&g711::ulaw_encode(&s), 8_000),
            g711::ulaw_decode(&g711::ulaw_encode(&s)),
        ),
        (
            "alaw",
            wav::encode_alaw(&g711::alaw_encode(&s), 8_000),
            g711::alaw_decode(&g711::alaw_encode(&s)),
        ),
        ("pcm16", wav::encode_pcm16(&s, 8_000, 1), s.clone()),
    ];
    for (name, bytes, expected) in files {
        let path = dir.join(format!("{name}.wav"));
        std::fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        let raw = sox(&[
            "-D",
            p,
            "-t",
            "raw",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-",
        ]);
        let theirs: Vec<i16> = raw
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(theirs, expected, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
