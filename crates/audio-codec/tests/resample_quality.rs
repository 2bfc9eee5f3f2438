//! Resampler: chunked output equals one-shot output; tone SNR; stop-band attenuation; delay.

use kav_audio_codec::resample::{Resampler, resample};

const PAIRS: [(u32, u32); 8] = [
    (8_000, 16_000),
    (16_000, 8_000),
    (8_000, 24_000),
    (24_000, 8_000),
    (16_000, 24_000),
    (24_000, 16_000),
    (8_000, 48_000),
    (48_000, 8_000),
];

fn tone(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<i16> {
    let n = (f64::from(rate) * secs) as usize;
    (0..n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()).round()
                as i16
        })
        .collect()
}

fn noise(n: usize, seed: u64) -> Vec<i16> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 48) as i16
        })
        .collect()
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn chunked_output_equals_one_shot_output() {
    for (from, to) in PAIRS {
        let input = noise(from as usize, u64::from(from) * 7 + u64::from(to));
        let mut one = Resampler::new(from, to).unwrap();
        let mut expected = one.process(&input);
        expected.extend(one.flush());

        // 20 ms chunks, and ragged chunks of prime sizes.
        for sizes in [vec![(from / 50) as usize], vec![1, 7, 13, 160, 331, 2]] {
            let mut r = Resampler::new(from, to).unwrap();
            let mut got = Vec::new();
            let mut pos = 0;
            let mut k = 0;
            while pos < input.len() {
                let n = sizes[k % sizes.len()].min(input.len() - pos);
                got.extend(r.process(&input[pos..pos + n]));
                pos += n;
                k += 1;
            }
            got.extend(r.flush());
            assert_eq!(got, expected, "{from}->{to} chunks {sizes:?}");
        }

        // The allocation-free variant with a buffer of exactly `max_output_len`.
        let mut r = Resampler::new(from, to).unwrap();
        let chunk = (from / 50) as usize;
        let mut buf = vec![0i16; r.max_output_len(chunk)];
        let mut got = Vec::new();
        for c in input.chunks(chunk) {
            let (used, written) = r.process_into(c, &mut buf);
            assert_eq!(used, c.len());
            got.extend_from_slice(&buf[..written]);
        }
        got.extend(r.flush());
        assert_eq!(got, expected, "{from}->{to} process_into");

        // Large inputs into small output buffers: each call stops where the output is full
        // (within a block of input), and the caller feeds the rest again.
        let one_input = Resampler::new(from, to).unwrap().max_output_len(1);
        for out_len in [one_input, 37, 500] {
            let mut r = Resampler::new(from, to).unwrap();
            let mut buf = vec![0i16; out_len];
            let mut got = Vec::new();
            for c in input.chunks(1_000) {
                let mut rest = c;
                while !rest.is_empty() {
                    let (used, written) = r.process_into(rest, &mut buf);
                    assert!(used > 0, "{from}->{to} stalled");
                    got.extend_from_slice(&buf[..written]);
                    rest = &rest[used..];
                }
            }
            got.extend(r.flush());
            assert_eq!(got, expected, "{from}->{to} output buffers of {out_len}");
        }

        // 20 ms in gives exactly 20 ms out, every chunk.
        let mut r = Resampler::new(from, to).unwrap();
        for c in input.chunks(chunk) {
            assert_eq!(r.process(c).len(), (to / 50) as usize, "{from}->{to}");
        }
    }
}

#[test]
fn process_into_with_a_small_buffer_consumes_what_fits() {
    let mut r = Resampler::new(8_000, 48_000).unwrap();
    let input = noise(100, 3);
    let mut out = [0i16; 20];
    let (used, written) = r.process_into(&input, &mut out);
    assert_eq!((used, written), (3, 18));
    let (used, written) = r.process_into(&input, &mut []);
    assert_eq!((used, written), (0, 0));
}

#[test]
fn flush_length_and_reset() {
    for (from, to) in PAIRS {
        let mut r = Resampler::new(from, to).unwrap();
        let input = noise(1234, 9);
        let mut n = r.process(&input).len();
        n += r.flush().len();
        let expected = r.delay_frames() + (1234 * to as usize).div_ceil(from as usize);
        assert_eq!(n, expected, "{from}->{to}");
        // flush resets: the same input gives the same output again.
        let a = r.process(&input);
        r.reset();
        let b = r.process(&input);
        assert_eq!(a, b);
        assert_eq!(
            resample(&input, from, to).unwrap().len(),
            (1234 * to as usize).div_ceil(from as usize)
        );
    }
}

#[test]
fn delay_is_reported_exactly() {
    // An impulse comes out centred `delay_frames()` output samples later.
    for (from, to) in PAIRS {
        let mut r = Resampler::new(from, to).unwrap();
        let mut input = vec![0i16; 400];
        input[100] = 20_000;
        let mut out = r.process(&input);
        out.extend(r.flush());
        let peak = out
            .iter()
            .enumerate()
            .max_by_key(|(_, v)| i32::from(**v).abs())
            .map(|(i, _)| i)
            .unwrap();
        let expected = 100.0 * f64::from(to) / f64::from(from) + r.delay_frames() as f64;
        // When the impulse falls between two output samples, the peak is the nearer one.
        assert!(
            (peak as f64 - expected).abs() <= 0.5,
            "{from}->{to}: peak {peak} expected {expected}"
        );
    }
}

#[test]
fn one_khz_tone_survives_with_snr_over_60_db() {
    for (from, to) in PAIRS {
        let input = tone(1000.0, from, 1.0, 16_000.0);
        let out = resample(&input, from, to).unwrap();
        let ideal = tone(1000.0, to, 1.0, 16_000.0);
        assert_eq!(out.len(), ideal.len());
        // Skip 50 ms at each end (the filter's start-up and the abrupt end of the input).
        let edge = (to / 20) as usize;
        let err: Vec<f64> = out[edge..out.len() - edge]
            .iter()
            .zip(&ideal[edge..ideal.len() - edge])
            .map(|(&a, &b)| f64::from(a) - f64::from(b))
            .collect();
        let sig: Vec<f64> = ideal[edge..ideal.len() - edge]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let snr = 20.0 * (rms(&sig) / rms(&err)).log10();
        eprintln!("{from}->{to}: 1 kHz SNR {snr:.1} dB");
        assert!(snr >= 60.0, "{from}->{to}: SNR {snr:.1} dB");
    }
}

#[test]
fn tones_above_the_new_nyquist_are_attenuated_60_db() {
    for (from, to) in PAIRS.into_iter().filter(|(f, t)| t < f) {
        let nyq_out = f64::from(to) / 2.0;
        let nyq_in = f64::from(from) / 2.0;
        for frac in [0.02, 0.25, 0.5, 0.9] {
            let f = nyq_out * 1.02 + frac * (nyq_in - nyq_out * 1.02) * 0.95;
            let input = tone(f, from, 1.0, 16_000.0);
            let out = resample(&input, from, to).unwrap();
            let edge = (to / 20) as usize;
            let o: Vec<f64> = out[edge..out.len() - edge]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let i: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
            // Rounding to i16 leaves ~0.3 LSB of noise; floor the output level there.
            let att = 20.0 * (rms(&i) / rms(&o).max(0.5)).log10();
            eprintln!("{from}->{to}: {f:.0} Hz attenuated {att:.1} dB");
            assert!(att >= 60.0, "{from}->{to}: {f:.0} Hz only {att:.1} dB down");
        }
    }
}

#[test]
fn bad_rates_are_errors() {
    assert!(Resampler::new(0, 8_000).is_err());
    assert!(Resampler::new(8_000, 0).is_err());
    assert!(Resampler::new(8_000, 10_000_000).is_err());
    assert!(Resampler::new(8_000, 8_009).is_err());
    assert!(resample(&[1, 2, 3], 44_100, 8_000).is_ok());
    // Same rate: identity.
    assert_eq!(resample(&[1, 2, 3], 8_000, 8_000).unwrap(), vec![1, 2, 3]);
}

/// What frameworks that resample each 20 ms chunk on its own do (a fresh one-shot resample per
/// chunk, like calling `soxr.resample` per chunk) versus the streaming resampler: the former
/// restarts the filter at every boundary, which is the click users hear.
#[test]
fn streaming_has_no_boundary_error_where_per_chunk_resampling_clicks() {
    let input = tone(440.0, 8_000, 1.0, 16_000.0);
    let reference = resample(&input, 8_000, 24_000).unwrap();
    let mut naive = Vec::new();
    for c in input.chunks(160) {
        naive.extend(resample(c, 8_000, 24_000).unwrap());
    }
    let mut streaming = Resampler::new(8_000, 24_000).unwrap();
    let delay = streaming.delay_frames();
    let mut ours = Vec::new();
    for c in input.chunks(160) {
        ours.extend(streaming.process(c));
    }
    ours.extend(streaming.flush());
    let ours = &ours[delay..];
    assert_eq!(ours, &reference[..]);
    let worst = |x: &[i16]| {
        x.iter()
            .zip(&reference)
            .skip(480)
            .take(reference.len() - 960)
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max()
            .unwrap()
    };
    let naive_err = worst(&naive);
    eprintln!(
        "largest error vs one-shot: per-chunk {naive_err} LSB, streaming {}",
        worst(ours)
    );
    assert_eq!(worst(ours), 0);
    assert!(
        naive_err > 1_000,
        "per-chunk resampling should click: {naive_err}"
    );
}
