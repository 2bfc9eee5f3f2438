//! The streaming pieces fed arbitrary bytes in arbitrary chunks: framer, G.711, resampler, VAD.
#![no_main]

use kav_audio_codec::{Framer, Resampler, Vad, g711, pcm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let rates = [8_000, 16_000, 24_000, 48_000];
    let from = rates[usize::from(sel & 3)];
    let to = rates[usize::from((sel >> 2) & 3)];
    let Ok(mut resampler) = Resampler::new(from, to) else {
        return;
    };
    let mut framer = Framer::new();
    let mut vad = Vad::default();
    let step = usize::from(sel >> 4) + 1;
    for chunk in rest.chunks(step * 7) {
        framer.push_with(chunk, |frame| {
            let _ = vad.process_ulaw(frame);
        });
        let samples = pcm::pcm16le_to_i16(chunk);
        let mut out = vec![0i16; resampler.max_output_len(samples.len())];
        let (used, _) = resampler.process_into(&samples, &mut out);
        assert_eq!(used, samples.len());
        let _ = g711::alaw_encode(&samples);
    }
    let _ = framer.flush();
    let _ = resampler.flush();
});
