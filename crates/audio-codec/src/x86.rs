//! AVX2 and AVX-512 kernels for the G.711 and PCM slice functions (x86-64 only), chosen at run
//! time by `g711.rs` and `pcm.rs`.
//!
//! The only `unsafe` of the crate lives here: calling `#[target_feature]` functions (sound only
//! once the CPU is known to have the features, which the [`Avx2`] and [`Avx512`] tokens prove:
//! only their `detect` functions make them) and unaligned vector loads and stores (sound when
//! the bytes are in bounds, which the array references they read and write prove). The G.711
//! kernels do the arithmetic of the portable kernels in `g711.rs` 16 to 64 lanes at a time (or
//! look the reference table up in registers); the tests there compare every kernel with the
//! reference over every input value and many lengths and offsets.
#![allow(unsafe_code)]

// The intrinsics are a large, flat namespace whose names say what they are.
use std::arch::x86_64::*;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::g711;

/// Proof that the CPU running this process supports AVX2: only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2 {
    _proof: (),
}

/// What `is_x86_feature_detected!("avx2")` said: 0 not asked yet, 1 no, 2 yes.
static AVX2: AtomicU8 = AtomicU8::new(0);

/// Proof that the CPU running this process supports AVX-512 F, BW, VBMI and VBMI2 (and AVX2):
/// only [`Avx512::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512 {
    _proof: (),
}

/// Whether the CPU supports AVX-512 F, BW, VBMI and VBMI2 (and AVX2): 0 not asked yet, 1 no,
/// 2 yes.
static AVX512: AtomicU8 = AtomicU8::new(0);

/// Reads a cached answer to a feature question, asking `detect` the first time.
#[inline]
fn cached(cache: &AtomicU8, detect: fn() -> bool) -> bool {
    match cache.load(Ordering::Relaxed) {
        0 => {
            let yes = detect();
            cache.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        v => v == 2,
    }
}

impl Avx512 {
    /// Returns the token when the CPU supports AVX-512 F, BW, VBMI, VBMI2 and AVX2 (detected
    /// once, then cached).
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let yes = cached(&AVX512, || {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vbmi")
                && std::is_x86_feature_detected!("avx512vbmi2")
                && std::is_x86_feature_detected!("avx2")
        });
        yes.then_some(Self { _proof: () })
    }

    /// `pcm::i16_to_f32_into` for slices of the same length.
    #[inline]
    pub(crate) fn i16_to_f32(self, samples: &[i16], out: &mut [f32]) {
        // SAFETY: `self` exists only if the CPU supports these features (see `detect`).
        unsafe { i16_to_f32_avx512(samples, out) }
    }

    /// μ-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(crate) fn ulaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports these features (see `detect`).
        unsafe { encode512::<true>(pcm, out) }
    }

    /// A-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(crate) fn alaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports these features (see `detect`).
        unsafe { encode512::<false>(pcm, out) }
    }

    /// μ-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(crate) fn ulaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports these features (see `detect`).
        unsafe { decode512::<true>(codes, out) }
    }

    /// A-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(crate) fn alaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports these features (see `detect`).
        unsafe { decode512::<false>(codes, out) }
    }
}

impl Avx2 {
    /// Returns the token when the CPU supports AVX2 (detected once, then cached).
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let yes = cached(&AVX2, || std::is_x86_feature_detected!("avx2"));
        yes.then_some(Self { _proof: () })
    }

    /// `pcm::i16_to_f32_into` for slices of the same length.
    #[inline]
    pub(crate) fn i16_to_f32(self, samples: &[i16], out: &mut [f32]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { i16_to_f32_avx2(samples, out) }
    }

    /// μ-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(crate) fn ulaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { encode::<true>(pcm, out) }
    }

    /// A-law encodes `min(pcm.len(), out.len())` samples.
    #[inline]
    pub(crate) fn alaw_encode(self, pcm: &[i16], out: &mut [u8]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { encode::<false>(pcm, out) }
    }

    /// μ-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(crate) fn ulaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { decode::<true>(codes, out) }
    }

    /// A-law decodes `min(codes.len(), out.len())` codes.
    #[inline]
    pub(crate) fn alaw_decode(self, codes: &[u8], out: &mut [i16]) {
        // SAFETY: `self` exists only if the CPU supports AVX2 (see `detect`).
        unsafe { decode::<false>(codes, out) }
    }
}

/// The portable loop of `pcm::i16_to_f32_into`, which LLVM vectorizes 8 samples at a time
/// with AVX2 (4 with the baseline SSE2).
#[target_feature(enable = "avx2")]
fn i16_to_f32_avx2(samples: &[i16], out: &mut [f32]) {
    crate::pcm::i16_to_f32_portable(samples, out);
}

/// The same loop vectorized with AVX-512, 16 samples at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
fn i16_to_f32_avx512(samples: &[i16], out: &mut [f32]) {
    crate::pcm::i16_to_f32_portable(samples, out);
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
        _ if ULAW => g711::ulaw_encode_portable(pcm, out),
        _ => g711::alaw_encode_portable(pcm, out),
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
        _ if ULAW => g711::ulaw_decode_portable(codes, out),
        _ => g711::alaw_decode_portable(codes, out),
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

/// Loads 16 codes.
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

/// Encodes 64 samples per step, the tail as [`encode`] does; slices shorter than 64 samples
/// go to the AVX2 kernel.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
fn encode512<const ULAW: bool>(pcm: &[i16], out: &mut [u8]) {
    let n = pcm.len().min(out.len());
    let (pcm, out) = (&pcm[..n], &mut out[..n]);
    if n < 64 {
        encode::<ULAW>(pcm, out);
        return;
    }
    let t = byte_tables(if ULAW { &ULAW_SHIFTS } else { &ALAW_SHIFTS });
    let step = |x: &[i16; 64], o: &mut [u8; 64]| {
        if ULAW {
            ulaw_encode64(&t, x, o);
        } else {
            alaw_encode64(&t, x, o);
        }
    };
    let (blocks, rest) = pcm.as_chunks::<64>();
    let (out_blocks, _) = out.as_chunks_mut::<64>();
    for (o, x) in out_blocks.iter_mut().zip(blocks) {
        step(x, o);
    }
    if rest.is_empty() {
        return;
    }
    if let (Some(x), Some(o)) = (pcm.last_chunk::<64>(), out.last_chunk_mut::<64>()) {
        step(x, o);
    }
}

/// Loads 2 × 32 samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn load64(x: &[i16; 64]) -> (__m512i, __m512i) {
    let p = x.as_ptr();
    // SAFETY: `x` is 128 readable bytes, `p` and `p + 32` start the two 64-byte halves, and
    // `loadu` has no alignment requirement. AVX-512 F is enabled on this function.
    unsafe {
        (
            _mm512_loadu_si512(p.cast()),
            _mm512_loadu_si512(p.add(32).cast()),
        )
    }
}

/// Byte indices for `vpermt2b` on two registers of 16-bit lanes: their low (`[0]`) and their
/// high (`[1]`) bytes, in lane order.
static LANE_BYTES: [[u8; 64]; 2] = {
    let mut t = [[0u8; 64]; 2];
    let mut i = 0;
    while i < 64 {
        t[0][i] = 2 * i as u8;
        t[1][i] = 2 * i as u8 + 1;
        i += 1;
    }
    t
};

/// Loads 64 bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn load_bytes(b: &[u8; 64]) -> __m512i {
    // SAFETY: `b` is 64 readable bytes; `loadu` has no alignment requirement. AVX-512 F is
    // enabled on this function.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

/// Stores the low bytes of the 16-bit lanes of `a` then `b` (64 codes: only their low bytes
/// count), each xored with `0x7F` or, for negative samples (the sign bits of `xa`, `xb`),
/// `0xFF`, and with `flip`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn store64(o: &mut [u8; 64], (a, b): (__m512i, __m512i), (xa, xb): (__m512i, __m512i), flip: i8) {
    let codes = _mm512_permutex2var_epi8(a, load_bytes(&LANE_BYTES[0]), b);
    let signs = _mm512_permutex2var_epi8(xa, load_bytes(&LANE_BYTES[1]), xb);
    let mask = _mm512_or_si512(signs, _mm512_set1_epi8(0x7F));
    let r = _mm512_xor_si512(_mm512_xor_si512(codes, mask), _mm512_set1_epi8(flip));
    // SAFETY: `o` is 64 writable bytes; `storeu` has no alignment requirement. AVX-512 F is
    // enabled on this function.
    unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), r) }
}

/// Byte tables of 128 entries indexed by the high byte `h` of a 15-bit magnitude `y` whose
/// leading one is at bit `p`: the right shift that leaves the leading one at bit 4 (`p - 4`,
/// at least `min_shift`) and an offset to add to the shifted `y` (`16 · (p - 4 - min_shift)` +
/// `base`), which together give the G.711 segment and step as `(segment << 4) | step`.
const fn shift_tables(min_shift: u32, base: u32) -> [[u8; 128]; 2] {
    let mut t = [[0u8; 128]; 2];
    let mut h = 0;
    while h < 128 {
        // The leading one of `y` is at bit 8 + log2(h), or at most at bit 7 when h = 0.
        let p = if h == 0 {
            7
        } else {
            8 + (31 - (h as u32).leading_zeros())
        };
        let shift = if p - 4 > min_shift { p - 4 } else { min_shift };
        t[0][h] = shift as u8;
        t[1][h] = (16 * (shift - min_shift) + base) as u8;
        h += 1;
    }
    t
}

/// μ-law: `y` (the biased magnitude of `ulaw_encode_arith`) is at least 128 (segment 0, shift
/// 3); the offset includes −16 (the leading one, now worth 16) and +128 (as in
/// [`ulaw_encode32`]).
static ULAW_SHIFTS: [[u8; 128]; 2] = shift_tables(3, 128 - 16);
/// A-law: below 512 the code is `y >> 4` (segments 0 and 1 share the step size).
static ALAW_SHIFTS: [[u8; 128]; 2] = shift_tables(4, 0);

/// Two 128-entry byte tables in registers (two registers each).
struct ByteTables {
    shift: [__m512i; 2],
    offset: [__m512i; 2],
}

/// Loads `t` into registers.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn byte_tables(t: &[[u8; 128]; 2]) -> ByteTables {
    let load = |table: &[u8; 128], i: usize| {
        let half = &table[64 * i..64 * i + 64];
        // SAFETY: `half` is 64 readable bytes; `loadu` has no alignment requirement. AVX-512
        // F is enabled on this function.
        unsafe { _mm512_loadu_si512(half.as_ptr().cast()) }
    };
    ByteTables {
        shift: [load(&t[0], 0), load(&t[0], 1)],
        offset: [load(&t[1], 0), load(&t[1], 1)],
    }
}

/// `(segment << 4 | step) + offset` of 32 magnitudes `y` in `0..=32767`, in the low byte of
/// each lane (the high bytes are left over). The high byte `h` of each `y` indexes the tables
/// (`vpermi2b`), which puts the shift and the offset in the low byte of the lane (the high
/// byte gets the entries for 0); the shift is a per-lane funnel shift (`vpshrdvw` with zeros
/// above), whose count is taken modulo 16, so that the high byte does not matter (a plain
/// variable shift would also need a select for counts of 16 or more).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn segment_and_step(t: &ByteTables, y: __m512i) -> __m512i {
    let h = _mm512_srli_epi16::<8>(y);
    let shift = _mm512_permutex2var_epi8(t.shift[0], h, t.shift[1]);
    let offset = _mm512_permutex2var_epi8(t.offset[0], h, t.offset[1]);
    _mm512_add_epi16(_mm512_shrdv_epi16(y, _mm512_setzero_si512(), shift), offset)
}

/// [`ulaw_encode32`] on 64 samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn ulaw_encode64(t: &ByteTables, x: &[i16; 64], o: &mut [u8; 64]) {
    let (xa, xb) = load64(x);
    let v = |x: __m512i| {
        let y = _mm512_max_epi16(
            _mm512_adds_epi16(x, _mm512_set1_epi16(132)),
            _mm512_subs_epi16(_mm512_set1_epi16(135), x),
        );
        segment_and_step(t, y)
    };
    store64(o, (v(xa), v(xb)), (xa, xb), 0);
}

/// [`alaw_encode32`] on 64 samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn alaw_encode64(t: &ByteTables, x: &[i16; 64], o: &mut [u8; 64]) {
    let (xa, xb) = load64(x);
    let code = |x: __m512i| segment_and_step(t, _mm512_xor_si512(x, _mm512_srai_epi16::<15>(x)));
    // 0x7F or 0xFF, ^ 0xAA: 0xD5 for positive samples, 0x55 for negative ones.
    store64(o, (code(xa), code(xb)), (xa, xb), 0xAAu8 as i8);
}

/// A 256-entry decoding table as byte planes in registers: the low and the high bytes of the
/// linear values of codes `0..=127` and `128..=255`, 128 bytes each (two registers).
struct Planes {
    lo: [__m512i; 4],
    hi: [__m512i; 4],
}

/// The low (`[0]`) and high (`[1]`) bytes of each value of a 256-entry decoding table.
const fn byte_planes(table: &[i16; 256]) -> [[u8; 256]; 2] {
    let mut planes = [[0u8; 256]; 2];
    let mut i = 0;
    while i < 256 {
        planes[0][i] = table[i] as u8;
        planes[1][i] = (table[i] >> 8) as u8;
        i += 1;
    }
    planes
}

/// The byte planes of the μ-law and A-law decoding tables (`g711.rs`), for `vpermi2b`.
static ULAW_PLANES: [[u8; 256]; 2] = byte_planes(&g711::ULAW_DECODE);
static ALAW_PLANES: [[u8; 256]; 2] = byte_planes(&g711::ALAW_DECODE);

/// Loads byte planes into registers.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn planes(bytes: &[[u8; 256]; 2]) -> Planes {
    let load = |plane: &[u8; 256], i: usize| {
        let quarter = &plane[64 * i..64 * i + 64];
        // SAFETY: `quarter` is 64 readable bytes; `loadu` has no alignment requirement.
        // AVX-512 F is enabled on this function.
        unsafe { _mm512_loadu_si512(quarter.as_ptr().cast()) }
    };
    Planes {
        lo: std::array::from_fn(|i| load(&bytes[0], i)),
        hi: std::array::from_fn(|i| load(&bytes[1], i)),
    }
}

/// Decodes 64 codes per step by table lookups in registers (`vpermi2b` on 128-byte halves of
/// each byte plane, the code's top bit choosing the half); tails as [`encode`]; slices
/// shorter than 64 codes go to the AVX2 kernel.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
fn decode512<const ULAW: bool>(codes: &[u8], out: &mut [i16]) {
    let n = codes.len().min(out.len());
    let (codes, out) = (&codes[..n], &mut out[..n]);
    if n < 64 {
        decode::<ULAW>(codes, out);
        return;
    }
    let t = planes(if ULAW { &ULAW_PLANES } else { &ALAW_PLANES });
    let (blocks, rest) = codes.as_chunks::<64>();
    let (out_blocks, _) = out.as_chunks_mut::<64>();
    for (o, c) in out_blocks.iter_mut().zip(blocks) {
        decode64(&t, c, o);
    }
    if rest.is_empty() {
        return;
    }
    if let (Some(c), Some(o)) = (codes.last_chunk::<64>(), out.last_chunk_mut::<64>()) {
        decode64(&t, c, o);
    }
}

/// Decodes 64 codes with the byte planes `t`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2")]
#[inline]
fn decode64(t: &Planes, c: &[u8; 64], o: &mut [i16; 64]) {
    // SAFETY: `c` is 64 readable bytes; `loadu` has no alignment requirement. AVX-512 F is
    // enabled on this function.
    let c = unsafe { _mm512_loadu_si512(c.as_ptr().cast()) };
    // Lane j (16 bytes) gets codes 8j..8j+8 and 32+8j..32+8j+8, so that interleaving the low
    // and high bytes of its low and high halves gives values 0..32 and 32..64 in order.
    let c = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 4, 1, 5, 2, 6, 3, 7), c);
    let top = _mm512_movepi8_mask(c);
    let lookup = |p: &[__m512i; 4]| {
        _mm512_mask_blend_epi8(
            top,
            _mm512_permutex2var_epi8(p[0], c, p[1]),
            _mm512_permutex2var_epi8(p[2], c, p[3]),
        )
    };
    let (lo, hi) = (lookup(&t.lo), lookup(&t.hi));
    let first = _mm512_unpacklo_epi8(lo, hi);
    let second = _mm512_unpackhi_epi8(lo, hi);
    let p = o.as_mut_ptr();
    // SAFETY: `o` is 128 writable bytes, `p` and `p + 32` start its two 64-byte halves, and
    // `storeu` has no alignment requirement. AVX-512 F is enabled on this function.
    unsafe {
        _mm512_storeu_si512(p.cast(), first);
        _mm512_storeu_si512(p.add(32).cast(), second);
    }
}
