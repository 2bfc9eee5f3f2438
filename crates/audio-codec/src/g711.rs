//! ITU-T G.711 μ-law and A-law, bit-exact with the reference implementation that CPython's
//! `audioop` uses (`lin2ulaw` / `ulaw2lin` / `lin2alaw` / `alaw2lin` with width 2).
//!
//! Encoding keeps the top 14 (μ-law) or 13 (A-law) bits of each 16-bit sample, as the reference
//! does. Slices are encoded arithmetically, without a table or a branch: the segment of a code
//! is the exponent of the (biased) magnitude converted to `f32`, which LLVM vectorizes with
//! baseline SSE2 (`cvtdq2ps`). Single samples and decoding use tables computed at compile time
//! by a `const fn` from the reference algorithm: 16 KiB for μ-law encoding (indexed by the top
//! 14 bits), 8 KiB for A-law encoding (top 13 bits), 512 bytes for each single-code decoder, and
//! 256 KiB for each slice decoder, which decodes two codes per lookup. Tests check every
//! sample value and every code against the reference (and, in `tests/g711_audioop.rs`, against
//! CPython's `audioop`). All four `*_into` functions are real-time safe: they allocate nothing,
//! never panic and take time linear in the input.
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
static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
/// Linear values of each pair of μ-law codes (256 KiB): decoding two samples per lookup is
/// twice as fast as one, and the pairs a voice signal uses stay in cache.
static ULAW_DECODE_PAIRS: [u32; 1 << 16] = build_decode_pairs(&build_ulaw_decode());
/// Linear value of each A-law code.
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
/// Linear values of each pair of A-law codes (256 KiB), as for μ-law.
static ALAW_DECODE_PAIRS: [u32; 1 << 16] = build_decode_pairs(&build_alaw_decode());

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
    // A plain loop over the samples: LLVM vectorizes it 8 or 16 samples at a time. (Blocks of
    // fixed-size arrays invite it to vectorize across blocks instead, with gathers: 4× slower.)
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = ulaw_encode_arith(s);
    }
    n
}

/// Decodes `min(codes.len(), out.len())` μ-law codes into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn ulaw_decode_into(codes: &[u8], out: &mut [i16]) -> usize {
    decode_with_pairs(codes, out, &ULAW_DECODE_PAIRS, &ULAW_DECODE)
}

/// Decodes with a pair table, eight codes per step read as one `u64` (four pair lookups, four
/// 32-bit stores), and the single table for the last `len % 8` codes.
#[inline(always)]
fn decode_with_pairs(
    codes: &[u8],
    out: &mut [i16],
    pairs: &[u32; 1 << 16],
    single: &[i16; 256],
) -> usize {
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
    n
}

/// Encodes `min(pcm.len(), out.len())` samples to A-law into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn alaw_encode_into(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    // A plain loop over the samples: LLVM vectorizes it 8 or 16 samples at a time. (Blocks of
    // fixed-size arrays invite it to vectorize across blocks instead, with gathers: 4× slower.)
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = alaw_encode_arith(s);
    }
    n
}

/// Decodes `min(codes.len(), out.len())` A-law codes into `out` and returns that count.
///
/// Real-time safe: no allocation, no panic.
#[inline]
pub fn alaw_decode_into(codes: &[u8], out: &mut [i16]) -> usize {
    decode_with_pairs(codes, out, &ALAW_DECODE_PAIRS, &ALAW_DECODE)
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
