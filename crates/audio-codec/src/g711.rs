//! ITU-T G.711 μ-law and A-law, bit-exact with the reference implementation that CPython's
//! `audioop` uses (`lin2ulaw` / `ulaw2lin` / `lin2alaw` / `alaw2lin` with width 2).
//!
//! Encoding keeps the top 14 (μ-law) or 13 (A-law) bits of each 16-bit sample, as the reference
//! does. The slice functions pick a kernel once per process from what the CPU supports:
//!
//! - **AVX-512** (F, BW, VBMI, VBMI2; Intel since Ice Lake, AMD since Zen 4), 64 samples per
//!   step. Decoding looks the reference table up in registers: `vpermi2b` on the low and the
//!   high bytes of the 256 values. Encoding looks the shift and the segment offset up by the
//!   high byte of the biased magnitude (`vpermi2b` again) and shifts each lane by its own count.
//! - **AVX2**, 32 samples per step for encoding, 16 for decoding: the arithmetic of the
//!   portable encoders below; decoding multiplies nibble-table factors (`pshufb`, `pmullw`).
//! - **Portable** safe Rust everywhere else: slices are encoded arithmetically, without a table
//!   or a branch (the segment of a code is the exponent of the biased magnitude converted to
//!   `f32`), which LLVM vectorizes with baseline SSE2 (`cvtdq2ps`); slices are decoded with
//!   256 KiB pair tables, two codes per lookup.
//!
//! The `unsafe` of the SIMD kernels is confined to the crate's `x86` module. Single samples
//! use tables computed at compile time by a `const fn` from the reference algorithm: 16 KiB for
//! μ-law encoding (indexed by the top 14 bits), 8 KiB for A-law encoding (top 13 bits), 512
//! bytes for each decoder. Tests run every kernel the CPU supports over every sample value and
//! every code, at every length up to 100 and at odd offsets, against the reference (and, in
//! `tests/g711_audioop.rs`, the selected kernel against CPython's `audioop`). All four `*_into`
//! functions are real-time safe: they allocate nothing, never panic and take time linear in the
//! input.
//!
//! ```
//! use kav_audio_codec::g711;
//!
//! let pcm = [0i16, 1000, -1000, i16::MAX, i16::MIN];
//! let mut codes = [0u8; 5];
//! assert_eq!(g711::ulaw_encode_into(&pcm, &mut codes), 5);
//! assert_eq!(codes[0], g711::ULAW_SILENCE);
//! let back = g711::ulaw_decode(&codes);
//! assert_eq!(back[0], 0);
//! assert!((i32::from(back[1]) - 1000).abs() < 40);
//! ```

/// The μ-law code of a zero sample (what `audioop.lin2ulaw(b"\0\0", 2)` returns).
pub const ULAW_SILENCE: u8 = 0xFF;
/// The A-law code of a zero sample (what `audioop.lin2alaw(b"\0\0", 2)` returns).
pub const ALAW_SILENCE: u8 = 0xD5;

/// Segment end points of the μ-law encoder (14-bit magnitudes plus bias).
const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
/// Segment end points of the A-law encoder (13-bit magnitudes).
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn search(val: i32, table: &[i32; 8]) -> i32 {
    let mut i = 0;
    while i < 8 {
        if val <= table[i] {
            return i as i32;
        }
        i += 1;
    }
    8
}

/// The reference μ-law encoder for a 14-bit two's-complement sample.
const fn linear14_to_ulaw(pcm: i32) -> u8 {
    const BIAS: i32 = 0x84 >> 2;
    let (mag, mask) = if pcm < 0 { (-pcm, 0x7F) } else { (pcm, 0xFF) };
    let mag = mag + BIAS;
    let seg = search(mag, &SEG_UEND);
    if seg >= 8 {
        (0x7F ^ mask) as u8
    } else {
        let uval = (seg << 4) | ((mag >> (seg + 1)) & 0xF);
        (uval ^ mask) as u8
    }
}

/// The reference A-law encoder for a 13-bit two's-complement sample.
const fn linear13_to_alaw(pcm: i32) -> u8 {
    let (mag, mask) = if pcm >= 0 {
        (pcm, 0xD5)
    } else {
        (-pcm - 1, 0x55)
    };
    let seg = search(mag, &SEG_AEND);
    if seg >= 8 {
        (0x7F ^ mask) as u8
    } else {
        let quant = if seg < 2 {
            (mag >> 1) & 0xF
        } else {
            (mag >> seg) & 0xF
        };
        ((seg << 4 | quant) ^ mask) as u8
    }
}

/// The reference μ-law decoder.
const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code as i32;
    let t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// The reference A-law decoder.
const fn alaw_to_linear(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let seg = (a & 0x70) >> 4;
    let mut t = (a & 0x0F) << 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Sign-extends the low `bits` bits of `i`.
const fn sign_extend(i: usize, bits: u32) -> i32 {
    let v = i as i32;
    let half = 1 << (bits - 1);
    if v >= half { v - (1 << bits) } else { v }
}

const fn build_ulaw_encode() -> [u8; 1 << 14] {
    let mut t = [0u8; 1 << 14];
    let mut i = 0;
    while i < t.len() {
        t[i] = linear14_to_ulaw(sign_extend(i, 14));
        i += 1;
    }
    t
}

const fn build_alaw_encode() -> [u8; 1 << 13] {
    let mut t = [0u8; 1 << 13];
    let mut i = 0;
    while i < t.len() {
        t[i] = linear13_to_alaw(sign_extend(i, 13));
        i += 1;
    }
    t
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
}

const fn build_decode_pairs(single: &[i16; 256]) -> [u32; 1 << 16] {
    let mut t = [0u32; 1 << 16];
    let mut i = 0;
    while i < t.len() {
        // Little-endian pair: the first code is the low byte and becomes the low half.
        let lo = single[i & 0xFF] as u16 as u32;
        let hi = single[i >> 8] as u16 as u32;
        t[i] = lo | (hi << 16);
        i += 1;
    }
    t
}

/// μ-law code for each 14-bit sample (`(sample as u16 >> 2)` indexes it).
static ULAW_ENCODE: [u8; 1 << 14] = build_ulaw_encode();
/// A-law code for each 13-bit sample (`(sample as u16 >> 3)` indexes it).
static ALAW_ENCODE: [u8; 1 << 13] = build_alaw_encode();
/// Linear value of each μ-law code.
pub(crate) static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
/// Linear values of each pair of μ-law codes (256 KiB): decoding two samples per lookup is
/// twice as fast as one, and the pairs a voice signal uses stay in cache.
static ULAW_DECODE_PAIRS: [u32; 1 << 16] = build_decode_pairs(&build_ulaw_decode());
/// Linear value of each A-law code.
pub(crate) static ALAW_DECODE: [i16; 256] = build_alaw_decode();
/// Linear values of each pair of A-law codes (256 KiB), as for μ-law.
static ALAW_DECODE_PAIRS: [u32; 1 << 16] = build_decode_pairs(&build_alaw_decode());

#[cfg(target_arch = "x86_64")]
use crate::x86;

/// The implementation of the slice functions: the portable one, or one for an instruction set
/// extension the CPU was found to support at run time.
#[derive(Clone, Copy, Debug)]
enum Kernel {
    /// Safe Rust, vectorized by LLVM for the compilation target (baseline SSE2 on x86-64).
    Portable,
    /// AVX2, 16 or 32 samples per step (x86-64 CPUs since 2013–2015).
    #[cfg(target_arch = "x86_64")]
    Avx2(x86::Avx2),
    /// AVX-512 F/BW/VBMI, 64 samples per step (Intel since Ice Lake, AMD since Zen 4).
    #[cfg(target_arch = "x86_64")]
    Avx512(x86::Avx512),
}

impl Kernel {
    /// The fastest kernel this CPU runs (detected once, then a relaxed atomic load).
    #[inline]
    fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx512) = x86::Avx512::detect() {
            return Self::Avx512(avx512);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = x86::Avx2::detect() {
            return Self::Avx2(avx2);
        }
        Self::Portable
    }

    /// Every kernel this CPU runs, the portable one first.
    #[cfg(test)]
    fn available() -> Vec<Self> {
        #[allow(unused_mut)] // nothing is added on other targets
        let mut all = vec![Self::Portable];
        #[cfg(target_arch = "x86_64")]
        all.extend(x86::Avx2::detect().map(Self::Avx2));
        #[cfg(target_arch = "x86_64")]
        all.extend(x86::Avx512::detect().map(Self::Avx512));
        all
    }

    /// Encodes `pcm` into `out` (of the same length).
    #[inline]
    fn ulaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Self::Portable => ulaw_encode_portable(pcm, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(k) => k.ulaw_encode(pcm, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.ulaw_encode(pcm, out),
        }
    }

    /// Encodes `pcm` into `out` (of the same length).
    #[inline]
    fn alaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Self::Portable => alaw_encode_portable(pcm, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(k) => k.alaw_encode(pcm, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.alaw_encode(pcm, out),
        }
    }

    /// Decodes `codes` into `out` (of the same length).
    #[inline]
    fn ulaw_decode(self, codes: &[u8], out: &mut [i16]) {
        match self {
            Self::Portable => ulaw_decode_portable(codes, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(k) => k.ulaw_decode(codes, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.ulaw_decode(codes, out),
        }
    }

    /// Decodes `codes` into `out` (of the same length).
    #[inline]
    fn alaw_decode(self, codes: &[u8], out: &mut [i16]) {
        match self {
            Self::Portable => alaw_decode_portable(codes, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(k) => k.alaw_decode(codes, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.alaw_decode(codes, out),
        }
    }
}

/// Encodes one sample to μ-law.
#[inline]
#[must_use]
pub fn ulaw_encode_sample(sample: i16) -> u8 {
    ULAW_ENCODE[usize::from(sample as u16 >> 2)]
}

/// Decodes one μ-law code.
#[inline]
#[must_use]
pub fn ulaw_decode_sample(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// Encodes one sample to A-law.
#[inline]
#[must_use]
pub fn alaw_encode_sample(sample: i16) -> u8 {
    ALAW_ENCODE[usize::from(sample as u16 >> 3)]
}

/// Decodes one A-law code.
#[inline]
#[must_use]
pub fn alaw_decode_sample(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// The reference μ-law encoder, computed without a table or a branch (LLVM vectorizes it).
///
/// The reference takes `v = x >> 2`, its magnitude plus a bias of 33 (clipped: everything from
/// 8159 + 33 up gives the same code as 8191), and splits it into a segment (the position of the
/// leading one, minus 5) and the next 4 bits. Here `y = 4 · (|v| + 33) + (0..=3)`, which has the
/// same 5 leading bits: `x + 132` for `x ≥ 2`, `135 - x` below (`max` picks the right one; at 0
/// and 1 both are within the range), saturated at 32,767, which does the clipping. Converted to
/// `f32` (exact), its bits `>> 19` are `(biased exponent << 4) | next 4 bits`, i.e. the code plus
/// `(127 + 7) << 4`. Positive samples are then complemented (`0xFF - code`) and negative ones
/// keep bit 7 clear (`0x7F - code`). SSE2: `paddsw`, `psubsw`, `pmaxsw`, `cvtdq2ps`, `psrld`,
/// `packssdw`, `psubw`, `pxor`, `packuswb`.
#[inline(always)]
fn ulaw_encode_arith(x: i16) -> u8 {
    let y = x.saturating_add(132).max(135i16.saturating_sub(x));
    let c = (f32::from(y as u16).to_bits() >> 19) as i16;
    let sign_bit = (x >> 8) & 0x80;
    // The clamp is a no-op (the code is in 0..=255) that lets LLVM narrow with `packuswb`.
    (((0xFF + ((127 + 7) << 4)) - c) ^ sign_bit).clamp(0, 0xFF) as u8
}

/// The reference A-law encoder, computed without a table or a branch (LLVM vectorizes it).
///
/// The reference takes `m = x >> 3` or its one's complement `!(x >> 3) = (!x) >> 3` for
/// negative samples (`0..=4095`): below 32 the code is `m >> 1`, above it is the segment (the
/// position of the leading one, minus 4) and the next 4 bits. With `y = x ^ sign` (`m` is
/// `y >> 3`), the `f32` of `y` gives the latter as `(bits >> 19) - ((127 + 7) << 4)`, which is
/// at least 16 from `m = 32` up and smaller than `min(y >> 4, 15) = min(m >> 1, 15)` below it,
/// so the maximum of the two is the code. Then `0xD5` (positive) or `0x55` is xored in.
#[inline(always)]
fn alaw_encode_arith(x: i16) -> u8 {
    let sign = x >> 15;
    let y = x ^ sign;
    let c = (f32::from(y as u16).to_bits() >> 19) as i16 - ((127 + 7) << 4);
    let code = c.max((y >> 4).min(15));
    // The clamp is a no-op (the code is in 0..=255) that lets LLVM narrow with `packuswb`.
    (code ^ (0xD5 ^ (sign & 0x80))).clamp(0, 0xFF) as u8
}

/// Encodes `min(pcm.len(), out.len())` samples to μ-law into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn ulaw_encode_into(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    Kernel::best().ulaw_encode(&pcm[..n], &mut out[..n]);
    n
}

/// The portable μ-law slice encoder: a plain loop over the samples, which LLVM vectorizes 8 or
/// 16 samples at a time. (Blocks of fixed-size arrays invite it to vectorize across blocks
/// instead, with gathers: 4× slower.)
pub(crate) fn ulaw_encode_portable(pcm: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = ulaw_encode_arith(s);
    }
}

/// Decodes `min(codes.len(), out.len())` μ-law codes into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn ulaw_decode_into(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    Kernel::best().ulaw_decode(&codes[..n], &mut out[..n]);
    n
}

/// The portable μ-law slice decoder (pair table).
pub(crate) fn ulaw_decode_portable(codes: &[u8], out: &mut [i16]) {
    decode_with_pairs(codes, out, &ULAW_DECODE_PAIRS, &ULAW_DECODE);
}

/// The portable A-law slice decoder (pair table).
pub(crate) fn alaw_decode_portable(codes: &[u8], out: &mut [i16]) {
    decode_with_pairs(codes, out, &ALAW_DECODE_PAIRS, &ALAW_DECODE);
}

/// Decodes with a pair table, eight codes per step read as one `u64` (four pair lookups, four
/// 32-bit stores), and the single table for the last `len % 8` codes.
#[inline(always)]
fn decode_with_pairs(codes: &[u8], out: &mut [i16], pairs: &[u32; 1 << 16], single: &[i16; 256]) {
    let n = codes.len().min(out.len());
    let (code_blocks, code_rest) = codes[..n].as_chunks::<8>();
    let (out_blocks, out_rest) = out[..n].as_chunks_mut::<8>();
    for (o, c) in out_blocks.iter_mut().zip(code_blocks) {
        let w = u64::from_le_bytes(*c);
        let v: [u32; 4] = std::array::from_fn(|i| pairs[usize::from((w >> (16 * i)) as u16)]);
        *o = std::array::from_fn(|i| (v[i / 2] >> (16 * (i % 2))) as i16);
    }
    for (o, &c) in out_rest.iter_mut().zip(code_rest) {
        *o = single[usize::from(c)];
    }
}

/// Encodes `min(pcm.len(), out.len())` samples to A-law into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn alaw_encode_into(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    Kernel::best().alaw_encode(&pcm[..n], &mut out[..n]);
    n
}

/// The portable A-law slice encoder, as [`ulaw_encode_portable`].
pub(crate) fn alaw_encode_portable(pcm: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = alaw_encode_arith(s);
    }
}

/// Decodes `min(codes.len(), out.len())` A-law codes into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn alaw_decode_into(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    Kernel::best().alaw_decode(&codes[..n], &mut out[..n]);
    n
}

/// Encodes samples to μ-law (allocates the output).
#[must_use]
pub fn ulaw_encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = vec![0; pcm.len()];
    ulaw_encode_into(pcm, &mut out);
    out
}

/// Decodes μ-law codes to samples (allocates the output).
#[must_use]
pub fn ulaw_decode(codes: &[u8]) -> Vec<i16> {
    let mut out = vec![0; codes.len()];
    ulaw_decode_into(codes, &mut out);
    out
}

/// Encodes samples to A-law (allocates the output).
#[must_use]
pub fn alaw_encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = vec![0; pcm.len()];
    alaw_encode_into(pcm, &mut out);
    out
}

/// Decodes A-law codes to samples (allocates the output).
#[must_use]
pub fn alaw_decode(codes: &[u8]) -> Vec<i16> {
    let mut out = vec![0; codes.len()];
    alaw_decode_into(codes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_decoder_matches_single_decoder() {
        let codes: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
        let mut out = vec![0i16; codes.len() + 1];
        assert_eq!(ulaw_decode_into(&codes, &mut out), codes.len());
        for (i, &c) in codes.iter().enumerate() {
            assert_eq!(out[i], ulaw_decode_sample(c));
        }
        assert_eq!(alaw_decode_into(&codes, &mut out), codes.len());
        for (i, &c) in codes.iter().enumerate() {
            assert_eq!(out[i], alaw_decode_sample(c));
        }
        // Lengths that are not a multiple of 8 use the single table for the last codes.
        for len in [3, 13, 17] {
            let mut short = [0i16; 20];
            assert_eq!(ulaw_decode_into(&codes[..len], &mut short), len);
            for (i, &c) in codes[..len].iter().enumerate() {
                assert_eq!(short[i], ulaw_decode_sample(c));
            }
            assert_eq!(alaw_decode_into(&codes[..len], &mut short), len);
            for (i, &c) in codes[..len].iter().enumerate() {
                assert_eq!(short[i], alaw_decode_sample(c));
            }
        }
    }

    /// Runs `f` with every kernel this CPU supports, saying which ones.
    fn for_each_kernel(mut f: impl FnMut(Kernel)) {
        let all = Kernel::available();
        eprintln!("kernels tested on this CPU: {all:?}");
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert!(all.iter().any(|k| matches!(k, Kernel::Avx2(_))));
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512vbmi") && std::is_x86_feature_detected!("avx512bw")
        {
            assert!(all.iter().any(|k| matches!(k, Kernel::Avx512(_))));
        }
        for k in all {
            f(k);
        }
    }

    #[test]
    fn every_kernel_encodes_every_sample_as_the_reference() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let ulaw_ref: Vec<u8> = all
            .iter()
            .map(|&x| linear14_to_ulaw(i32::from(x) >> 2))
            .collect();
        let alaw_ref: Vec<u8> = all
            .iter()
            .map(|&x| linear13_to_alaw(i32::from(x) >> 3))
            .collect();
        for_each_kernel(|k| {
            let mut out = vec![0u8; all.len()];
            k.ulaw_encode(&all, &mut out);
            for (i, &x) in all.iter().enumerate() {
                assert_eq!(out[i], ulaw_ref[i], "{k:?} ulaw {x}");
            }
            k.alaw_encode(&all, &mut out);
            for (i, &x) in all.iter().enumerate() {
                assert_eq!(out[i], alaw_ref[i], "{k:?} alaw {x}");
            }
            // Reversed, so that every sample value meets every lane position too.
            let rev: Vec<i16> = all.iter().rev().copied().collect();
            k.ulaw_encode(&rev, &mut out);
            assert!(out.iter().rev().eq(&ulaw_ref), "{k:?} ulaw reversed");
            k.alaw_encode(&rev, &mut out);
            assert!(out.iter().rev().eq(&alaw_ref), "{k:?} alaw reversed");
        });
    }

    #[test]
    fn every_kernel_decodes_every_code_as_the_reference() {
        // Each code at every position of a 32-code block, and every pair of codes.
        let codes: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
        let shifted: Vec<u8> = (0..33 * 256).map(|i| (i % 257) as u8).collect();
        for_each_kernel(|k| {
            for input in [&codes, &shifted] {
                let mut out = vec![0i16; input.len()];
                k.ulaw_decode(input, &mut out);
                for (i, &c) in input.iter().enumerate() {
                    assert_eq!(out[i], ulaw_to_linear(c), "{k:?} ulaw {c:#04x}");
                }
                k.alaw_decode(input, &mut out);
                for (i, &c) in input.iter().enumerate() {
                    assert_eq!(out[i], alaw_to_linear(c), "{k:?} alaw {c:#04x}");
                }
            }
        });
    }

    #[test]
    fn every_kernel_handles_every_length_and_offset() {
        let pcm: Vec<i16> = (0..140u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 16) as i16)
            .collect();
        let codes: Vec<u8> = pcm.iter().map(|&x| x as u8).collect();
        for_each_kernel(|k| {
            for offset in [0, 1, 3, 7, 17, 31] {
                for len in 0..=100 {
                    let x = &pcm[offset..offset + len];
                    let c = &codes[offset..offset + len];
                    // Guard bytes after the output must stay untouched.
                    let mut enc = vec![0xA5u8; offset + len + 40];
                    let mut dec = vec![0x5A5Ai16; offset + len + 40];
                    k.ulaw_encode(x, &mut enc[offset..offset + len]);
                    k.ulaw_decode(c, &mut dec[offset..offset + len]);
                    for i in 0..len {
                        let (s, code) = (x[i], c[i]);
                        let want = linear14_to_ulaw(i32::from(s) >> 2);
                        assert_eq!(enc[offset + i], want, "{k:?} ulaw len {len} off {offset}");
                        let want = ulaw_to_linear(code);
                        assert_eq!(dec[offset + i], want, "{k:?} ulaw len {len} off {offset}");
                    }
                    k.alaw_encode(x, &mut enc[offset..offset + len]);
                    k.alaw_decode(c, &mut dec[offset..offset + len]);
                    for i in 0..len {
                        let (s, code) = (x[i], c[i]);
                        let want = linear13_to_alaw(i32::from(s) >> 3);
                        assert_eq!(enc[offset + i], want, "{k:?} alaw len {len} off {offset}");
                        let want = alaw_to_linear(code);
                        assert_eq!(dec[offset + i], want, "{k:?} alaw len {len} off {offset}");
                    }
                    assert!(enc[..offset].iter().all(|&b| b == 0xA5));
                    assert!(enc[offset + len..].iter().all(|&b| b == 0xA5));
                    assert!(dec[..offset].iter().all(|&v| v == 0x5A5A));
                    assert!(dec[offset + len..].iter().all(|&v| v == 0x5A5A));
                }
            }
        });
    }

    #[test]
    fn arithmetic_kernels_match_the_reference() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(
                ulaw_encode_arith(x),
                linear14_to_ulaw(i32::from(x) >> 2),
                "ulaw {x}"
            );
            assert_eq!(
                alaw_encode_arith(x),
                linear13_to_alaw(i32::from(x) >> 3),
                "alaw {x}"
            );
        }
    }

    #[test]
    fn slice_encoder_matches_single_samples_at_every_length() {
        let pcm: Vec<i16> = (0..40).map(|i| (i * 1_657 - 32_000) as i16).collect();
        for len in 0..=pcm.len() {
            let mut out = [0u8; 40];
            assert_eq!(ulaw_encode_into(&pcm[..len], &mut out), len);
            for (i, &s) in pcm[..len].iter().enumerate() {
                assert_eq!(out[i], ulaw_encode_sample(s), "len {len}, sample {i}");
            }
            assert_eq!(alaw_encode_into(&pcm[..len], &mut out), len);
            for (i, &s) in pcm[..len].iter().enumerate() {
                assert_eq!(out[i], alaw_encode_sample(s), "len {len}, sample {i}");
            }
        }
    }

    #[test]
    fn silence_codes() {
        assert_eq!(ulaw_encode_sample(0), ULAW_SILENCE);
        assert_eq!(alaw_encode_sample(0), ALAW_SILENCE);
        assert_eq!(ulaw_decode_sample(ULAW_SILENCE), 0);
        assert_eq!(alaw_decode_sample(ALAW_SILENCE), 8);
    }

    #[test]
    fn known_reference_values() {
        // Values produced by CPython's audioop (width 2).
        assert_eq!(ulaw_decode_sample(0x00), -32124);
        assert_eq!(ulaw_decode_sample(0x80), 32124);
        assert_eq!(ulaw_encode_sample(i16::MAX), 0x80);
        assert_eq!(ulaw_encode_sample(i16::MIN), 0x00);
        assert_eq!(alaw_decode_sample(0x55), -8);
        assert_eq!(alaw_decode_sample(0x2A), -32256);
        assert_eq!(alaw_decode_sample(0xAA), 32256);
    }

    #[test]
    fn decode_then_encode_is_identity() {
        for c in 0..=255u8 {
            // μ-law has two zero codes (0x7F and 0xFF); both decode to 0, which encodes to 0xFF.
            let expected = if c == 0x7F { 0xFF } else { c };
            assert_eq!(
                ulaw_encode_sample(ulaw_decode_sample(c)),
                expected,
                "ulaw {c:#04x}"
            );
            assert_eq!(
                alaw_encode_sample(alaw_decode_sample(c)),
                c,
                "alaw {c:#04x}"
            );
        }
    }

    #[test]
    fn into_uses_the_shorter_length() {
        let pcm = [0i16; 10];
        let mut out = [0u8; 4];
        assert_eq!(ulaw_encode_into(&pcm, &mut out), 4);
        assert_eq!(alaw_encode_into(&pcm[..2], &mut out), 2);
        let mut dec = [1i16; 3];
        assert_eq!(ulaw_decode_into(&[0xFF; 8], &mut dec), 3);
        assert_eq!(dec, [0; 3]);
        assert_eq!(alaw_decode_into(&[], &mut dec), 0);
    }
}
