//! Conversions between PCM16 little-endian bytes, `i16` samples and `f32` samples.
//!
//! The `*_into` functions are real-time safe: they allocate nothing, never panic, process as many
//! whole samples as both buffers hold and return that count. The loops use `chunks_exact`, which
//! compiles to plain loads and stores (and vectorizes). `f32` samples are in `[-1.0, 1.0)`:
//! `i16 → f32` divides by 32768, `f32 → i16` multiplies by 32768, rounds to nearest and saturates
//! (NaN becomes 0), so `i16 → f32 → i16` is the identity.
//!
//! ```
//! use kav_audio_codec::pcm;
//!
//! let bytes = [0x34, 0x12, 0xFF, 0xFF];
//! assert_eq!(pcm::pcm16le_to_i16(&bytes), vec![0x1234, -1]);
//! assert_eq!(pcm::i16_to_pcm16le(&[0x1234, -1]), bytes.to_vec());
//! assert_eq!(pcm::f32_to_i16(&[2.0, -2.0, 0.5]), vec![i16::MAX, i16::MIN, 16384]);
//! ```

const SCALE: f32 = 32768.0;

/// Reads `min(bytes.len() / 2, out.len())` little-endian 16-bit samples into `out`; returns the
/// count. A trailing odd byte is ignored.
#[inline]
pub fn pcm16le_to_i16_into(bytes: &[u8], out: &mut [i16]) -> usize {
    let n = (bytes.len() / 2).min(out.len());
    for (o, b) in out[..n].iter_mut().zip(bytes[..2 * n].chunks_exact(2)) {
        *o = i16::from_le_bytes([b[0], b[1]]);
    }
    n
}

/// Writes `min(samples.len(), out.len() / 2)` samples as little-endian bytes into `out`; returns
/// the number of samples written.
#[inline]
pub fn i16_to_pcm16le_into(samples: &[i16], out: &mut [u8]) -> usize {
    let n = samples.len().min(out.len() / 2);
    for (o, s) in out[..2 * n].chunks_exact_mut(2).zip(&samples[..n]) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    n
}

/// Converts `min(samples.len(), out.len())` samples to `f32` in `[-1.0, 1.0)`; returns the count.
#[inline]
pub fn i16_to_f32_into(samples: &[i16], out: &mut [f32]) -> usize {
    let n = samples.len().min(out.len());
    let (samples, out) = (&samples[..n], &mut out[..n]);
    #[cfg(target_arch = "x86_64")]
    if let Some(avx512) = crate::x86::Avx512::detect() {
        avx512.i16_to_f32(samples, out);
        return n;
    } else if let Some(avx2) = crate::x86::Avx2::detect() {
        avx2.i16_to_f32(samples, out);
        return n;
    }
    i16_to_f32_portable(samples, out);
    n
}

/// The loop of [`i16_to_f32_into`]; on x86-64 it is also compiled for AVX2 and AVX-512 (in
/// `x86.rs`), which the CPU picks at run time.
#[inline(always)]
pub(crate) fn i16_to_f32_portable(samples: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = f32::from(s) / SCALE;
    }
}

/// Converts one `f32` sample to `i16`: scales by 32768, rounds to nearest, saturates; NaN → 0.
#[inline]
#[must_use]
pub fn f32_to_i16_sample(x: f32) -> i16 {
    // Round half away from zero without `f32::round` (a libm call on baseline x86-64); `as`
    // truncates toward zero, saturates and maps NaN to 0.
    let y = x * SCALE;
    (y + 0.5f32.copysign(y)) as i16
}

/// Converts `min(samples.len(), out.len())` `f32` samples to `i16` (saturating); returns the
/// count.
#[inline]
pub fn f32_to_i16_into(samples: &[f32], out: &mut [i16]) -> usize {
    let n = samples.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&samples[..n]) {
        *o = f32_to_i16_sample(s);
    }
    n
}

/// Reads little-endian 16-bit samples (a trailing odd byte is ignored).
#[must_use]
pub fn pcm16le_to_i16(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Writes samples as little-endian bytes.
#[must_use]
pub fn i16_to_pcm16le(samples: &[i16]) -> Vec<u8> {
    let mut out = vec![0u8; samples.len() * 2];
    i16_to_pcm16le_into(samples, &mut out);
    out
}

/// Converts samples to `f32` in `[-1.0, 1.0)`.
#[must_use]
pub fn i16_to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / SCALE).collect()
}

/// Converts `f32` samples to `i16` (saturating, NaN → 0).
#[must_use]
pub fn f32_to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&s| f32_to_i16_sample(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i16_f32_round_trip_is_exact() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        assert_eq!(f32_to_i16(&i16_to_f32(&all)), all);
    }

    #[test]
    fn bytes_round_trip_and_odd_lengths() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let bytes = i16_to_pcm16le(&all);
        assert_eq!(pcm16le_to_i16(&bytes), all);
        assert_eq!(pcm16le_to_i16(&[1, 0, 7]), vec![1]);
        let mut out = [0i16; 1];
        assert_eq!(pcm16le_to_i16_into(&[1, 0, 2, 0], &mut out), 1);
        let mut b = [0u8; 3];
        assert_eq!(i16_to_pcm16le_into(&[-2, 5], &mut b), 1);
        assert_eq!(b, [0xFE, 0xFF, 0]);
    }

    #[test]
    fn every_i16_to_f32_kernel_matches_the_portable_one() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut want = vec![0f32; all.len()];
        i16_to_f32_portable(&all, &mut want);
        assert!(
            want.iter()
                .zip(&all)
                .all(|(&f, &s)| f * SCALE == f32::from(s))
        );
        type Kernel = Box<dyn Fn(&[i16], &mut [f32])>;
        #[allow(unused_mut)] // nothing is added on other targets
        let mut kernels: Vec<(&str, Kernel)> = vec![("portable", Box::new(i16_to_f32_portable))];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = crate::x86::Avx2::detect() {
                kernels.push(("avx2", Box::new(move |s, o| k.i16_to_f32(s, o))));
            }
            if let Some(k) = crate::x86::Avx512::detect() {
                kernels.push(("avx512", Box::new(move |s, o| k.i16_to_f32(s, o))));
            }
        }
        for (name, k) in &kernels {
            let mut out = vec![0f32; all.len()];
            k(&all, &mut out);
            assert_eq!(out, want, "{name}");
            for offset in [0, 1, 3] {
                for len in 0..=100 {
                    let mut out = vec![9.0f32; len + 8];
                    k(&all[offset..offset + len], &mut out[..len]);
                    assert_eq!(out[..len], want[offset..offset + len], "{name} {len}");
                    assert!(out[len..].iter().all(|&v| v == 9.0), "{name} {len}");
                }
            }
        }
        assert_eq!(i16_to_f32_into(&all, &mut [0f32; 10]), 10);
    }

    #[test]
    fn f32_saturates() {
        assert_eq!(
            f32_to_i16(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.999_99]),
            vec![0, i16::MAX, i16::MIN, i16::MAX]
        );
    }
}
