//! AVX2 kernels for the G.711 slice functions (x86-64 only), chosen at run time.
//!
//! The only `unsafe` of the crate lives here: calling `#[target_feature(enable = "avx2")]`
//! functions (sound only once the CPU is known to have AVX2, which the [`Avx2`] token proves) and
//! unaligned vector loads and stores (sound when the bytes are in bounds, which the array
//! references they read and write prove). Everything else is the arithmetic of the portable
//! kernels in `g711.rs`, done 16 or 32 lanes at a time; the tests there compare both over every
//! input value and many lengths and offsets.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, __m256i, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_or_si128, _mm_set1_epi8,
    _mm_setr_epi8, _mm_shuffle_epi8, _mm_srli_epi16, _mm_xor_si128, _mm256_adds_epi16,
    _mm256_blend_epi16, _mm256_castps_si256, _mm256_cvtepi8_epi16, _mm256_cvtepi32_ps,
    _mm256_cvtepu8_epi16, _mm256_loadu_si256, _mm256_max_epi16, _mm256_min_epi16,
    _mm256_mullo_epi16, _mm256_or_si256, _mm256_packs_epi16, _mm256_packus_epi16,
    _mm256_permute4x64_epi64, _mm256_set1_epi8, _mm256_set1_epi16, _mm256_set1_epi32,
    _mm256_setzero_si256, _mm256_srai_epi16, _mm256_srli_epi16, _mm256_srli_epi32,
    _mm256_storeu_si256, _mm256_sub_epi16, _mm256_subs_epi16, _mm256_xor_si256,
};
use std::sync::atomic::{AtomicU8, Ordering};

/// Proof that the CPU running this process supports AVX2: only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2 {
    _proof: (),
}

/// What `is_x86_feature_detected!("avx2")` said: 0 not asked yet, 1 no, 2 yes.
static AVX2: AtomicU8 = AtomicU8::new(0);

impl Avx2 {
    /// Returns the token when the CPU supports AVX2 (detected once, then cached).
    #[inline]
    pub(super) fn detect() -> Option<Self> {
        let known = match AVX2.load(Ordering::Relaxed) {
            0 => {
                let yes = std::is_x86_feature_detected!("avx2");
                AVX2.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            v => v == 2,
        };
        known.then_some(Self { _proof: () })
    }

    /// μ-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(super) fn ulaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { encode::<true>(pcm, out) }
    }

    /// A-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(super) fn alaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { encode::<false>(pcm, out) }
    }

    /// μ-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(super) fn ulaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { decode::<true>(codes, out) }
    }

    /// A-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(super) fn alaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { decode::<false>(codes, out) }
    }
}

/// Encodes 32 samples per step; a length that is not a multiple of 32 (but at least 32) ends
/// with one more step over the last 32 samples, which rewrites some codes with the same values.
/// Shorter slices use the portable kernel.
#[target_feature(enable = "avx2")]
fn encode<const ULAW: bool>(pcm: &[i16], out: &mut [u8]) {
    let n = pcm.len().min(out.len());
    let (pcm, out) = (&pcm[..n], &mut out[..n]);
    let step = |x: &[i16; 32], o: &mut [u8; 32]| {
        if ULAW {
            ulaw_encode32(x, o);
        } else {
            alaw_encode32(x, o);
        }
    };
    let (blocks, rest) = pcm.as_chunks::<32>();
    let (out_blocks, _) = out.as_chunks_mut::<32>();
    for (o, x) in out_blocks.iter_mut().zip(blocks) {
        step(x, o);
    }
    if rest.is_empty() {
        return;
    }
    match (pcm.last_chunk::<32>(), out.last_chunk_mut::<32>()) {
        (Some(x), Some(o)) => step(x, o),
        _ if ULAW => super::ulaw_encode_portable(pcm, out),
        _ => super::alaw_encode_portable(pcm, out),
    }
}

/// Decodes 16 codes per step, the tail as [`encode`] does.
#[target_feature(enable = "avx2")]
fn decode<const ULAW: bool>(codes: &[u8], out: &mut [i16]) {
    let n = codes.len().min(out.len());
    let (codes, out) = (&codes[..n], &mut out[..n]);
    let step = |c: &[u8; 16], o: &mut [i16; 16]| {
        if ULAW {
            ulaw_decode16(c, o);
        } else {
            alaw_decode16(c, o);
        }
    };
    let (blocks, rest) = codes.as_chunks::<16>();
    let (out_blocks, _) = out.as_chunks_mut::<16>();
    for (o, c) in out_blocks.iter_mut().zip(blocks) {
        step(c, o);
    }
    if rest.is_empty() {
        return;
    }
    match (codes.last_chunk::<16>(), out.last_chunk_mut::<16>()) {
        (Some(c), Some(o)) => step(c, o),
        _ if ULAW => super::ulaw_decode_portable(codes, out),
        _ => super::alaw_decode_portable(codes, out),
    }
}

/// Loads 2 × 16 samples.
#[target_feature(enable = "avx2")]
#[inline]
fn load32(x: &[i16; 32]) -> (__m256i, __m256i) {
    let p = x.as_ptr();
    // SAFETY: `x` is 64 readable bytes, `p` and `p + 16` start the two 32-byte halves, and
    // `loadu` has no alignment requirement. AVX2 is enabled on this function.
    unsafe {
        (
            _mm256_loadu_si256(p.cast()),
            _mm256_loadu_si256(p.add(16).cast()),
        )
    }
}

/// Narrows two vectors of 16 codes (in `0..=255`) to bytes, xors `mask` (bytes in sample order
/// after the same narrowing) and stores the 32 bytes in sample order.
#[target_feature(enable = "avx2")]
#[inline]
fn store32(o: &mut [u8; 32], a: __m256i, b: __m256i, mask: __m256i) {
    // `packus` works within each 128-bit lane: the bytes come out as a0..7 b0..7 a8..15 b8..15,
    // which the 64-bit permutation puts back in order.
    let r = _mm256_xor_si256(_mm256_packus_epi16(a, b), mask);
    let r = _mm256_permute4x64_epi64::<0b11_01_10_00>(r);
    // SAFETY: `o` is 32 writable bytes; `storeu` has no alignment requirement. AVX2 is enabled
    // on this function.
    unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), r) }
}

/// For `y` in `0..=32767` per 16-bit lane: the bits `>> 19` of `y as f32`, i.e. `(biased
/// exponent << 4) | top 4 mantissa bits`, plus `16 << 4` in the odd (high) lanes.
///
/// The even lanes are converted as the low halves of the 32-bit lanes, the odd ones as the high
/// halves with the low half cleared (so `y << 16`, exact, exponent 16 higher), whose bits `>> 3`
/// put the same field in the high half.
#[target_feature(enable = "avx2")]
#[inline]
fn exponent_and_mantissa(y: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    let lo = _mm256_blend_epi16::<0xAA>(y, zero);
    let hi = _mm256_blend_epi16::<0xAA>(zero, y);
    let flo = _mm256_srli_epi32::<19>(_mm256_castps_si256(_mm256_cvtepi32_ps(lo)));
    let fhi = _mm256_srli_epi32::<3>(_mm256_castps_si256(_mm256_cvtepi32_ps(hi)));
    _mm256_blend_epi16::<0xAA>(flo, fhi)
}

/// Subtracting this from [`exponent_and_mantissa`] leaves `segment << 4 | 4 bits` (the same in
/// both halves of a 32-bit lane) minus `bias`.
#[target_feature(enable = "avx2")]
#[inline]
fn exponent_bias(bias: i32) -> __m256i {
    const E: i32 = (127 + 7) << 4;
    _mm256_set1_epi32(((E + (16 << 4) + bias) << 16) | (E + bias))
}

/// `ulaw_encode_arith` (in `g711.rs`) on 32 samples.
#[target_feature(enable = "avx2")]
#[inline]
fn ulaw_encode32(x: &[i16; 32], o: &mut [u8; 32]) {
    let (xa, xb) = load32(x);
    // The code before the sign is applied, plus 128 (= xored with 0x80, since it is below 128).
    let v = |x: __m256i| {
        let y = _mm256_max_epi16(
            _mm256_adds_epi16(x, _mm256_set1_epi16(132)),
            _mm256_subs_epi16(_mm256_set1_epi16(135), x),
        );
        _mm256_sub_epi16(exponent_and_mantissa(y), exponent_bias(-128))
    };
    // Bytes with the samples' signs; | 0x7F gives 0xFF for negative samples, 0x7F otherwise,
    // and `(v ^ 0x80) ^ that` is `0x7F - v` or `0xFF - v`.
    let mask = _mm256_or_si256(_mm256_packs_epi16(xa, xb), _mm256_set1_epi8(0x7F));
    store32(o, v(xa), v(xb), mask);
}

/// `alaw_encode_arith` (in `g711.rs`) on 32 samples.
#[target_feature(enable = "avx2")]
#[inline]
fn alaw_encode32(x: &[i16; 32], o: &mut [u8; 32]) {
    let (xa, xb) = load32(x);
    let code = |x: __m256i| {
        let y = _mm256_xor_si256(x, _mm256_srai_epi16::<15>(x));
        let c = _mm256_sub_epi16(exponent_and_mantissa(y), exponent_bias(0));
        _mm256_max_epi16(
            c,
            _mm256_min_epi16(_mm256_srli_epi16::<4>(y), _mm256_set1_epi16(15)),
        )
    };
    // 0xFF for negative samples, 0x7F otherwise; ^ 0xAA: 0x55 or 0xD5.
    let sign = _mm256_or_si256(_mm256_packs_epi16(xa, xb), _mm256_set1_epi8(0x7F));
    let mask = _mm256_xor_si256(sign, _mm256_set1_epi8(0xAAu8 as i8));
    store32(o, code(xa), code(xb), mask);
}

/// A `pshufb` table.
#[target_feature(enable = "avx2")]
#[inline]
fn table(t: [u8; 16]) -> __m128i {
    let b = t.map(|v| v as i8);
    _mm_setr_epi8(
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    )
}

/// Loads 16 codes and splits them into low and high nibbles.
#[target_feature(enable = "avx2")]
#[inline]
fn load16(c: &[u8; 16]) -> __m128i {
    // SAFETY: `c` is 16 readable bytes; `loadu` has no alignment requirement. AVX2 (and so
    // SSE2) is enabled on this function.
    unsafe { _mm_loadu_si128(c.as_ptr().cast()) }
}

/// Applies the sign of the codes (`c < 0x80`: negative) to 16 magnitudes and stores them.
#[target_feature(enable = "avx2")]
#[inline]
fn store16(o: &mut [i16; 16], c: __m128i, mag: __m256i) {
    let neg = _mm256_cvtepi8_epi16(_mm_cmpgt_epi8(c, _mm_set1_epi8(-1)));
    let v = _mm256_sub_epi16(_mm256_xor_si256(mag, neg), neg);
    // SAFETY: `o` is 32 writable bytes; `storeu` has no alignment requirement. AVX2 is enabled
    // on this function.
    unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), v) }
}

/// `ulaw_to_linear` (in `g711.rs`) on 16 codes: with `u = !code`, the magnitude is
/// `((u & 15) * 8 + 0x84) << ((u >> 4) & 7)) - 0x84`; both factors come from nibble tables and
/// the shift is a 16-bit multiply.
#[target_feature(enable = "avx2")]
#[inline]
fn ulaw_decode16(c: &[u8; 16], o: &mut [i16; 16]) {
    const MANT: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = (((15 - i) << 3) + 0x84) as u8;
            i += 1;
        }
        t
    };
    const POW: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = 1 << (7 - (i & 7));
            i += 1;
        }
        t
    };
    let c = load16(c);
    let nibble = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(c, nibble);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(c), nibble);
    let mant = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(table(MANT), lo));
    let pow = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(table(POW), hi));
    let mag = _mm256_sub_epi16(_mm256_mullo_epi16(mant, pow), _mm256_set1_epi16(0x84));
    store16(o, c, mag);
}

/// `alaw_to_linear` (in `g711.rs`) on 16 codes: with `a = code ^ 0x55`, segment `s` and step
/// `m`, the magnitude is `(8m + 4 + 128 · (s > 0)) · (s > 0 ? 2^s : 2)`, factors from nibble
/// tables again.
#[target_feature(enable = "avx2")]
#[inline]
fn alaw_decode16(c: &[u8; 16], o: &mut [i16; 16]) {
    const MANT: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = (8 * i + 4) as u8;
            i += 1;
        }
        t
    };
    const SEGMENT_BIT: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = if i & 7 == 0 { 0 } else { 0x80 };
            i += 1;
        }
        t
    };
    const POW: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = if i & 7 == 0 { 2 } else { 1 << (i & 7) };
            i += 1;
        }
        t
    };
    let c = load16(c);
    let a = _mm_xor_si128(c, _mm_set1_epi8(0x55));
    let nibble = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(a, nibble);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(a), nibble);
    let mant = _mm_or_si128(
        _mm_shuffle_epi8(table(MANT), lo),
        _mm_shuffle_epi8(table(SEGMENT_BIT), hi),
    );
    let pow = _mm_shuffle_epi8(table(POW), hi);
    let mag = _mm256_mullo_epi16(_mm256_cvtepu8_epi16(mant), _mm256_cvtepu8_epi16(pow));
    store16(o, c, mag);
}
