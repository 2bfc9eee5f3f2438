//! Runs the example binary on generated WAV files.

use std::process::Command;

use kav_audio_codec::wav;

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kav-transcode-{}-{name}", std::process::id()))
}

#[test]
fn stereo_44k_to_8k_mulaw_alaw_and_pcm16() {
    // 0.5 s of a 440 Hz tone, stereo, 44.1 kHz.
    let frames = 22_050;
    let samples: Vec<i16> = (0..frames * 2)
        .map(|i| ((i / 2) as f64 * 440.0 * std::f64::consts::TAU / 44_100.0).sin())
        .map(|x| (x * 12_000.0) as i16)
        .collect();
    let input = tmp("in.wav");
    std::fs::write(&input, wav::encode_pcm16(&samples, 44_100, 2)).unwrap();
    for (to, tag) in [("mulaw", 7u16), ("alaw", 6), ("pcm16", 1)] {
        let output = tmp(&format!("out-{to}.wav"));
        let run = Command::new(env!("CARGO_BIN_EXE_transcode"))
            .arg(&input)
            .arg(&output)
            .args(["--to", to, "--rate", "8000"])
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let bytes = std::fs::read(&output).unwrap();
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), tag);
        let w = wav::decode(&bytes).unwrap();
        assert_eq!(
            (w.sample_rate, w.channels, w.samples.len()),
            (8_000, 1, 4_000)
        );
        let peak = w.samples[400..3600]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((11_000..13_000).contains(&peak), "{to}: peak {peak}");
        let _ = std::fs::remove_file(&output);
    }
    let _ = std::fs::remove_file(&input);
}

#[test]
fn not_a_wav_fails_with_a_clear_message() {
    let input = tmp("bad.wav");
    std::fs::write(&input, b"<html>502 Bad Gateway</html>").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_transcode"))
        .arg(&input)
        .arg(tmp("never.wav"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("not a WAV file") && err.contains("text"),
        "{err}"
    );
    let _ = std::fs::remove_file(&input);
}
