//! A streaming polyphase windowed-sinc resampler for the rates a phone agent needs.
//!
//! [`Resampler`] converts mono `i16` audio between any two rates whose ratio, reduced, has a
//! numerator and denominator of at most [`MAX_PHASES`] (all of 8, 16, 22.05, 24, 32, 44.1 and 48 kHz to and from
//! each other qualify). It keeps its state between calls, so feeding it 20 ms chunks, single
//! samples or a whole file gives the *same* samples, bit for bit: there are no clicks at chunk
//! boundaries.
//!
//! The filter is a Kaiser-windowed sinc designed per rate pair: pass band up to 85 % of the
//! lower Nyquist frequency (3.4 kHz for 8 kHz audio, the telephone band), stop band from the
//! lower Nyquist frequency on, designed for 75 dB of attenuation there, so anything that would
//! alias or image is strongly suppressed (the tests measure at least 60 dB, typically 70–80 dB,
//! and a 1 kHz tone coming through with an SNR above 70 dB). The filter is linear-phase; its
//! delay is a whole number of output samples, reported by [`Resampler::delay_frames`];
//! [`resample`] removes it.
//!
//! Arithmetic is fixed-point: 16-bit coefficients (each polyphase branch normalized to a DC
//! gain of exactly 1, scaled so that the 32-bit sum can never overflow), 16-bit history and a
//! 32-bit multiply-accumulate that the compiler vectorizes (`pmaddwd` on x86-64). It is exact
//! integer arithmetic, so results are identical on every platform and for every chunking.
//!
//! Real-time safety: [`Resampler::process_into`] allocates nothing and never panics;
//! [`Resampler::process`] and [`Resampler::flush`] allocate their output `Vec`;
//! [`Resampler::new`] allocates the filter and history (about 2 KiB for the telephone pairs).
//!
//! ```
//! use kav_audio_codec::resample::Resampler;
//!
//! let mut up = Resampler::new(8_000, 24_000)?;
//! let chunk = [0i16; 160]; // 20 ms at 8 kHz
//! let out = up.process(&chunk);
//! assert_eq!(out.len(), 480); // 20 ms at 24 kHz
//! let tail = up.flush(); // the last `delay_frames()` samples
//! assert_eq!(tail.len(), up.delay_frames());
//! # Ok::<(), kav_audio_codec::Error>(())
//! ```

use crate::Error;

/// The largest numerator or denominator of the reduced ratio `to_hz / from_hz` supported.
pub const MAX_PHASES: u32 = 1024;
/// The lowest sample rate accepted, in Hz.
pub const MIN_RATE: u32 = 1_000;
/// The highest sample rate accepted, in Hz.
pub const MAX_RATE: u32 = 384_000;

/// Stop-band attenuation the filter is designed for, in dB.
const ATTENUATION_DB: f64 = 75.0;
/// Pass-band edge as a fraction of the lower Nyquist frequency.
const PASSBAND: f64 = 0.85;
/// Taps of each polyphase branch are padded to a multiple of this (for the vectorized dot).
const LANES: usize = 16;
/// Input samples copied into the history buffer at a time.
const BLOCK: usize = 256;

/// A streaming mono resampler; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    /// Interpolation factor (reduced numerator).
    up: usize,
    /// Decimation factor (reduced denominator).
    down: usize,
    /// Taps per polyphase branch (a multiple of `LANES`).
    taps: usize,
    /// `up` branches of `taps` fixed-point coefficients each (scaled by `scale`), time-reversed
    /// so that a branch is dotted with the history oldest-first.
    bank: Vec<i16>,
    /// `2^40 / scale`, rounded: an accumulator times this, shifted right by 40, is a sample.
    inv_scale: i64,
    /// History: the last `taps` input samples (oldest first), then room for a block of up to
    /// `BLOCK` new ones. Copying a block in, then computing its outputs from windows of the
    /// buffer, keeps stores and the vector loads of the same samples apart.
    buf: Vec<i16>,
    /// Branch of the next output sample.
    phase: usize,
    /// Input samples still to be pushed before the next output sample can be computed.
    pending: usize,
    /// Per phase: what pushing the input sample that makes an output due releases.
    schedule: Vec<Step>,
    /// Delay of the filter in output samples.
    delay: usize,
    /// Input samples pushed since the last reset (for `flush`).
    total_in: u64,
    /// Output samples produced since the last reset (for `flush`).
    total_out: u64,
}

/// The outputs released by one input sample, precomputed per phase (no division per sample).
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Outputs released.
    count: usize,
    /// Phase of the next output.
    next_phase: usize,
    /// Input samples to push before the next output is due (at least 1).
    advance: usize,
}

const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

impl Resampler {
    /// Builds a resampler from `from_hz` to `to_hz` (mono).
    ///
    /// # Errors
    /// [`Error::UnsupportedRate`] for a rate outside [`MIN_RATE`]`..=`[`MAX_RATE`];
    /// [`Error::UnsupportedRatio`] when a term of the reduced ratio exceeds [`MAX_PHASES`].
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, Error> {
        for r in [from_hz, to_hz] {
            if !(MIN_RATE..=MAX_RATE).contains(&r) {
                return Err(Error::UnsupportedRate(r));
            }
        }
        let g = gcd(from_hz, to_hz);
        let (up, down) = (to_hz / g, from_hz / g);
        if up > MAX_PHASES || down > MAX_PHASES {
            return Err(Error::UnsupportedRatio {
                from: from_hz,
                to: to_hz,
            });
        }
        let (up, down) = (up as usize, down as usize);
        let (bank, scale, taps, delay) = if up == 1 && down == 1 {
            // Identity: one branch whose only non-zero tap takes the newest sample.
            let mut bank = vec![0; LANES];
            bank[LANES - 1] = 1;
            (bank, 1, LANES, 0)
        } else {
            design(up, down)
        };
        let inv_scale = ((1i64 << 40) + i64::from(scale) / 2) / i64::from(scale);
        let schedule = (0..up)
            .map(|p| {
                // The first output is due now; following ones every `down / up` inputs.
                let count = 1 + (up - 1 - p) / down;
                let end = p + count * down;
                Step {
                    count,
                    next_phase: end % up,
                    advance: end / up,
                }
            })
            .collect();
        let mut r = Self {
            schedule,
            from_hz,
            to_hz,
            up,
            down,
            taps,
            bank,
            inv_scale,
            buf: vec![0; taps + BLOCK],
            phase: 0,
            pending: 1,
            delay,
            total_in: 0,
            total_out: 0,
        };
        r.reset();
        Ok(r)
    }

    /// The input rate in Hz.
    #[must_use]
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// The output rate in Hz.
    #[must_use]
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// The delay of the filter, in output frames: output sample `n` corresponds to input time
    /// `(n - delay_frames()) / to_hz`. [`resample`] drops these leading samples.
    #[must_use]
    pub fn delay_frames(&self) -> usize {
        self.delay
    }

    /// Forgets all history, as if newly built (allocation-free).
    pub fn reset(&mut self) {
        self.buf.fill(0);
        self.phase = 0;
        self.pending = 1;
        self.total_in = 0;
        self.total_out = 0;
    }

    /// An upper bound of the number of output samples that `input_len` input samples produce.
    /// Size the `out` buffer of [`process_into`](Self::process_into) with it.
    #[must_use]
    pub fn max_output_len(&self, input_len: usize) -> usize {
        (input_len * self.up).div_ceil(self.down) + 1
    }

    /// Resamples `input`, continuing from the previous call, into `out`.
    ///
    /// Consumes input samples as long as the output they produce fits in `out` and returns
    /// `(consumed, written)`. With `out.len() >= max_output_len(input.len())` all input is
    /// consumed. Real-time safe: no allocation, no panic.
    pub fn process_into(&mut self, input: &[i16], out: &mut [i16]) -> (usize, usize) {
        let mut written = 0;
        let mut consumed = 0;
        let taps = self.taps;
        for block in input.chunks(BLOCK) {
            self.buf[taps..taps + block.len()].copy_from_slice(block);
            let mut used = 0;
            while used < block.len() {
                // Outputs that this sample releases.
                let n = self.outputs_after_push();
                if written + n > out.len() {
                    break;
                }
                used += 1;
                // The newest `taps` samples now end with the one just taken.
                written += self.emit(used, &mut out[written..written + n]);
            }
            self.buf.copy_within(used..used + taps, 0);
            consumed += used;
            if used < block.len() {
                break;
            }
        }
        self.total_in += consumed as u64;
        (consumed, written)
    }

    /// Resamples `input`, continuing from the previous call (allocates the output).
    #[must_use]
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = vec![0; self.max_output_len(input.len())];
        let (_, written) = self.process_into(input, &mut out);
        out.truncate(written);
        out
    }

    /// Drains the filter: returns the output still owed for the input given so far (the
    /// last [`delay_frames`](Self::delay_frames) samples plus rounding), then resets.
    ///
    /// After `process` of a total of `n` samples and `flush`, exactly
    /// `delay_frames() + ceil(n * to_hz / from_hz)` samples have come out.
    #[must_use]
    pub fn flush(&mut self) -> Vec<i16> {
        let target =
            self.delay as u64 + (self.total_in * self.up as u64).div_ceil(self.down as u64);
        let owed = usize::try_from(target.saturating_sub(self.total_out)).unwrap_or(0);
        let mut out = Vec::with_capacity(owed);
        while out.len() < owed {
            let mut released = vec![0; self.outputs_after_push()];
            let (_, n) = self.process_into(&[0], &mut released);
            let take = n.min(owed - out.len());
            out.extend_from_slice(&released[..take]);
        }
        self.reset();
        out
    }

    /// How many output samples the next pushed input sample releases.
    #[inline]
    fn outputs_after_push(&self) -> usize {
        if self.pending > 1 {
            return 0;
        }
        self.schedule[self.phase].count
    }

    /// Computes the `out.len()` outputs released by the sample just taken, whose newest
    /// `taps` samples are `buf[start..start + taps]`.
    #[inline]
    fn emit(&mut self, start: usize, out: &mut [i16]) -> usize {
        if self.pending > 1 {
            self.pending -= 1;
            return 0;
        }
        let window = &self.buf[start..start + self.taps];
        let step = self.schedule[self.phase];
        let mut phase = self.phase;
        for o in out.iter_mut() {
            let branch = &self.bank[phase * self.taps..(phase + 1) * self.taps];
            *o = to_i16(dot(branch, window), self.inv_scale);
            phase += self.down;
        }
        if out.len() == step.count {
            self.phase = step.next_phase;
            self.pending = step.advance;
        } else {
            // Only `flush` asks for fewer (it then resets); keep the state consistent anyway.
            self.pending = phase / self.up;
            self.phase = phase % self.up;
        }
        self.pending = self.pending.max(1);
        self.total_out += out.len() as u64;
        out.len()
    }
}

/// Scales a fixed-point accumulator back to a sample: rounds to nearest and saturates.
#[inline]
fn to_i16(acc: i32, inv_scale: i64) -> i16 {
    let y = (i64::from(acc) * inv_scale + (1 << 39)) >> 40;
    y.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// Fixed-point dot product of two slices whose length is a multiple of [`LANES`]. Integer
/// addition is associative, so the compiler is free to vectorize the sum: on x86-64 this
/// compiles to `pmaddwd` (8 multiply-adds per instruction, two chains) and a short tree at the
/// end. `design` scales the coefficients so that the sum cannot overflow; `wrapping_add` keeps
/// it panic-free anyway.
#[inline]
fn dot(a: &[i16], b: &[i16]) -> i32 {
    let (a, _) = a.as_chunks::<LANES>();
    let (b, _) = b.as_chunks::<LANES>();
    let mut acc = [0i32; LANES];
    for (x, y) in a.iter().zip(b) {
        for i in 0..LANES {
            acc[i] = acc[i].wrapping_add(i32::from(x[i]) * i32::from(y[i]));
        }
    }
    acc.iter().fold(0, |s, &v| s.wrapping_add(v))
}

/// Designs the polyphase bank: returns `(bank, fixed-point scale, taps per branch, delay in
/// output samples)`.
fn design(up: usize, down: usize) -> (Vec<i16>, i32, usize, usize) {
    // Work at the prototype rate up * from_hz, in cycles per prototype sample.
    let nyq_min = 0.5 / up.max(down) as f64;
    let stop = nyq_min;
    let pass = PASSBAND * nyq_min;
    let cutoff = 0.5 * (pass + stop);
    let width = stop - pass;
    let min_len = ((ATTENUATION_DB - 7.95) / (14.36 * width)).ceil() as usize + 1;
    // Odd length 2·d·down + 1 makes the group delay exactly d output samples.
    let delay = (min_len - 1).div_ceil(2 * down);
    let len = 2 * delay * down + 1;
    let taps = len.div_ceil(up).div_ceil(LANES) * LANES;
    let beta = 0.1102 * (ATTENUATION_DB - 8.7);
    let i0_beta = bessel_i0(beta);
    let center = (len - 1) as f64 / 2.0;
    let mut proto = vec![0.0f64; taps * up];
    for (j, h) in proto.iter_mut().enumerate().take(len) {
        let t = j as f64 - center;
        let sinc = if t == 0.0 {
            2.0 * cutoff
        } else {
            (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
        };
        let r = t / center;
        let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
        *h = sinc * w * up as f64;
    }
    // Branch p, tap k multiplies x[need - k]; store reversed so index taps-1-k.
    // Fixed point: the largest scale such that every branch's sum of |coefficients| stays
    // within 65 000 (so |Σ x·h| < 32 768 · 65 536 = 2^31: the i32 sum cannot overflow, even
    // with the +1 adjustments below) and every coefficient fits an i16.
    let worst_sum = (0..up)
        .map(|p| (0..taps).map(|k| proto[p + k * up].abs()).sum::<f64>())
        .fold(0.0f64, f64::max);
    let worst_tap = proto.iter().fold(0.0f64, |m, h| m.max(h.abs()));
    let scale_i = (65_000.0 / worst_sum)
        .min(32_000.0 / worst_tap)
        .floor()
        .max(1.0) as i32;
    let scale = f64::from(scale_i);
    let mut bank = vec![0i16; taps * up];
    for (p, branch) in bank.chunks_exact_mut(taps).enumerate() {
        for k in 0..taps {
            let q = (proto[p + k * up] * scale).round();
            branch[taps - 1 - k] = q.clamp(-32_768.0, 32_767.0) as i16;
        }
        // Rounding loses the small tail coefficients in a correlated way, which would leave a
        // gain error of several 1e-4. Give each branch a DC gain of exactly 1: spread the
        // residual over the largest coefficients, one unit each.
        let sum: i64 = branch.iter().map(|&c| i64::from(c)).sum();
        let mut residual = i64::from(scale_i) - sum;
        let mut order: Vec<usize> = (0..taps).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(branch[i].unsigned_abs()));
        for &i in order.iter().cycle().take(taps * 4) {
            if residual == 0 {
                break;
            }
            let step = residual.signum();
            let c = i64::from(branch[i]) + step;
            if let Ok(c) = i16::try_from(c) {
                branch[i] = c;
                residual -= step;
            }
        }
    }
    (bank, scale_i, taps, delay)
}

/// Resamples a whole mono signal in one call, with the filter delay removed: the output has
/// `ceil(input.len() * to_hz / from_hz)` samples, aligned with the input.
///
/// # Errors
/// As [`Resampler::new`].
pub fn resample(input: &[i16], from_hz: u32, to_hz: u32) -> Result<Vec<i16>, Error> {
    let mut r = Resampler::new(from_hz, to_hz)?;
    let delay = r.delay_frames();
    let mut out = r.process(input);
    out.extend(r.flush());
    out.drain(..delay.min(out.len()));
    Ok(out)
}
