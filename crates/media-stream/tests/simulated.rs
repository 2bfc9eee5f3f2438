//! The state machine driven against a simulated Twilio on a fake clock: pacing, marks, clear,
//! stream and sequence checks, inbound audio.

mod common;

use std::time::Duration;

use common::{Harness, ms};
use kav_media_stream::{Config, Error, Event, MediaStream, OutboundMessage, PlaybackPosition};

/// Distinct μ-law bytes (never the 0xFF silence used for padding), so playback can be compared.
fn speech(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) % 0xF0)
        .collect()
}

/// A position as (utterance number, samples), for comparisons.
fn at(position: Option<PlaybackPosition>) -> Option<(u64, u64)> {
    position.map(|p| (p.utterance.get(), p.samples))
}

#[test]
fn pacing_keeps_twilio_buffer_within_the_lead_and_plays_without_gaps() {
    for lead_ms in [20, 40, 100, 250] {
        let mut h = Harness::started(MediaStream::new(Config::default().with_lead(ms(lead_ms))));
        let audio = speech(2 * 8000, 7); // two seconds
        h.stream.push_ulaw(&audio);
        h.stream.finish_utterance();
        h.run_until(ms(3000));

        assert!(
            h.twilio.max_buffered <= ms(lead_ms),
            "lead {lead_ms} ms: Twilio held {:?}",
            h.twilio.max_buffered
        );
        assert_eq!(h.twilio.played, audio, "lead {lead_ms} ms");
        // Continuous playback: frame k ends exactly (k + 1) × 20 ms after the start.
        for (k, end) in h.twilio.frame_ends.iter().enumerate() {
            assert_eq!(
                h.elapsed(*end),
                ms(20 * (k as u64 + 1)),
                "lead {lead_ms} ms"
            );
        }
        assert_eq!(h.stream.queued_duration(), Duration::ZERO);
    }
}

#[test]
fn with_network_latency_the_bound_holds_and_confirmations_come_later() {
    let latency = ms(40);
    let mut h = Harness::new(MediaStream::default());
    h.latency = latency;
    h.twilio.connect();
    h.run_until(ms(40));
    assert!(h.stream.is_started());
    let t_push = h.now;
    let audio = speech(8000, 13);
    let id = h.stream.push_ulaw(&audio);
    h.stream.finish_utterance();
    h.run_until(ms(540));
    // The model assumes frames play from the moment they are handed out, so with latency it
    // runs ahead of the real player by the one-way delay; marks never run ahead.
    let estimate = h.stream.played_estimate(h.now).unwrap();
    let real_ms = h.twilio.played.len() as u64 / 8;
    assert_eq!(estimate.millis(), 500);
    assert_eq!(real_ms, 460);
    assert!(h.stream.played().unwrap().millis() <= real_ms);
    h.run_until(ms(2000));
    assert!(
        h.twilio.max_buffered <= ms(100),
        "{:?}",
        h.twilio.max_buffered
    );
    assert_eq!(h.twilio.played, audio);
    for (k, end) in h.twilio.frame_ends.iter().enumerate() {
        assert_eq!(
            end.duration_since(t_push),
            latency + ms(20 * (k as u64 + 1))
        );
    }
    let (t, _) = h
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::UtterancePlayed { utterance, .. } if *utterance == id))
        .unwrap();
    // Played at 1000 ms + latency, confirmed one more latency later.
    assert_eq!(t.duration_since(t_push), ms(1000) + latency * 2);
}

#[test]
fn a_burst_of_lead_then_one_frame_per_20_ms() {
    let mut h = Harness::started(MediaStream::new(Config::default().with_lead(ms(100))));
    h.stream.push_ulaw(&speech(8000, 1));
    h.exchange();
    let media = |h: &Harness| {
        h.twilio
            .received
            .iter()
            .filter(|m| m.contains(r#""event":"media""#))
            .count()
    };
    assert_eq!(media(&h), 5);
    assert_eq!(h.stream.buffered_ahead(h.now), ms(100));
    assert_eq!(h.stream.poll_timeout(), Some(h.t0 + ms(20)));
    h.run_until(ms(19));
    assert_eq!(media(&h), 5);
    h.run_until(ms(20));
    assert_eq!(media(&h), 6);
    h.run_until(ms(200));
    assert_eq!(media(&h), 15);
}

#[test]
fn utterance_played_is_reported_when_twilio_has_played_it() {
    let mut h = Harness::started(MediaStream::default());
    let first = h.stream.push_ulaw(&speech(4000, 2)); // 500 ms
    assert_eq!(h.stream.finish_utterance(), Some(first));
    let second = h.stream.push_pcm(&[3000i16; 1000]); // 125 ms, last frame padded
    assert_ne!(first, second);
    h.stream.finish_utterance();
    h.run_until(ms(1000));

    let played: Vec<_> = h
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::UtterancePlayed { utterance, samples } => {
                Some((h.elapsed(*t), *utterance, *samples))
            }
            _ => None,
        })
        .collect();
    // The second utterance's padded frame ends at 640 ms.
    assert_eq!(played, [(ms(500), first, 4000), (ms(640), second, 1000)]);
    assert_eq!(at(h.stream.played()), Some((1, 1000)));
    assert_eq!(h.stream.pending_marks(), 0);
    // 4000 + 1000 samples of audio and 120 samples of padding.
    assert_eq!(h.twilio.played.len(), 5120);
    assert!(h.twilio.played[5000..].iter().all(|&b| b == 0xFF));
}

#[test]
fn marks_confirm_progress_at_the_configured_interval() {
    let mut h = Harness::started(MediaStream::new(Config::default().with_mark_interval(5)));
    h.stream.push_ulaw(&speech(8000, 3));
    h.run_until(ms(250));
    // Marks after every 5 frames: returned at 100 and 200 ms.
    assert_eq!(at(h.stream.played()), Some((0, 1600)));
    assert_eq!(at(h.stream.played_estimate(h.now)), Some((0, 2000)));
    assert_eq!(h.stream.played_estimate(h.now).unwrap().millis(), 250);
    let returned: Vec<_> = h
        .twilio
        .marks_returned
        .iter()
        .map(|(t, _)| h.elapsed(*t))
        .collect();
    assert_eq!(returned, [ms(100), ms(200)]);
}

#[test]
fn a_mark_is_placed_when_the_queue_runs_dry() {
    let mut h = Harness::started(MediaStream::new(Config::default().with_mark_interval(50)));
    // Streaming synthesis that is slower than real time: 60 ms arrives, then nothing.
    let id = h.stream.push_ulaw(&speech(480, 4));
    h.run_until(ms(100));
    assert_eq!(at(h.stream.played()), Some((0, 480)));
    assert!(
        !h.events
            .iter()
            .any(|(_, e)| matches!(e, Event::UtterancePlayed { .. })),
        "the utterance is not finished"
    );
    h.stream.push_ulaw(&speech(160, 5));
    h.stream.finish_utterance();
    h.run_until(ms(200));
    assert!(h.events().contains(&Event::UtterancePlayed {
        utterance: id,
        samples: 640
    }));
}

#[test]
fn audio_arriving_just_in_time_costs_no_extra_marks() {
    let mut h = Harness::started(MediaStream::default());
    // One frame every 20 ms, as from a real-time source: the queue is dry after every frame.
    for k in 0..50u64 {
        h.run_until(ms(20 * k));
        h.stream.push_ulaw(&speech(160, k as u8));
    }
    h.run_until(ms(1200));
    let marks = h
        .twilio
        .received
        .iter()
        .filter(|m| m.contains(r#""event":"mark""#))
        .count();
    // One every 5 frames (the last one falls on the last frame), none for the dry queue.
    assert_eq!(marks, 10);
    assert_eq!(at(h.stream.played()), Some((0, 8000)));
}

#[test]
fn user_marks_follow_their_audio_even_inside_a_partial_frame() {
    let mut h = Harness::started(MediaStream::default());
    h.stream.push_ulaw(&speech(100, 6));
    h.stream.push_mark("half").unwrap();
    h.stream.push_ulaw(&speech(100, 6));
    h.stream.push_mark("end").unwrap();
    h.stream.finish_utterance();
    assert!(matches!(
        h.stream.push_mark("kav:1"),
        Err(Error::InvalidMarkName)
    ));
    assert!(matches!(
        h.stream.push_mark(""),
        Err(Error::InvalidMarkName)
    ));
    h.exchange();
    let kinds: Vec<&str> = h
        .twilio
        .received
        .iter()
        .map(|m| match OutboundMessage::parse(m).unwrap() {
            OutboundMessage::Media { .. } => "media",
            OutboundMessage::Mark { ref name, .. } if name == "half" => "half",
            OutboundMessage::Mark { ref name, .. } if name == "end" => "end",
            OutboundMessage::Mark { .. } => "auto",
            _ => "other",
        })
        .collect();
    // "half" follows the frame completed by the second push; "end" the padded last frame.
    assert_eq!(kinds, ["media", "half", "media", "end", "auto"]);
    h.run_until(ms(100));
    let marks: Vec<_> = h
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::MarkPlayed { name } => Some((h.elapsed(*t), name.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(marks, [(ms(20), "half"), (ms(40), "end")]);
}

#[test]
fn clear_drops_the_queue_reports_what_was_heard_and_accounts_for_returned_marks() {
    let mut h = Harness::started(MediaStream::default());
    let first = h.stream.push_ulaw(&speech(1600, 8)); // 200 ms
    h.stream.push_mark("after-200ms").unwrap();
    h.stream.push_ulaw(&speech(1280, 9)); // to 360 ms
    h.stream.push_mark("after-360ms").unwrap();
    h.stream.push_ulaw(&speech(5120, 10)); // to 1000 ms
    h.stream.push_mark("after-1000ms").unwrap();
    h.stream.finish_utterance();
    h.run_until(ms(330));

    // Twilio holds up to 100 ms ahead: audio up to 420 ms has been sent; the automatic mark
    // after 300 ms has come back, the one named after 360 ms is pending.
    assert_eq!(h.stream.pending_marks(), 1);
    let heard = h.stream.clear(h.now).expect("something was heard");
    assert_eq!(
        heard,
        PlaybackPosition {
            utterance: first,
            samples: 2640
        }
    );
    assert_eq!(heard.millis(), 330);
    assert_eq!(heard.duration(), ms(330));
    h.exchange();
    assert_eq!(h.twilio.clears, 1);
    assert_eq!(
        h.stream.pending_marks(),
        0,
        "Twilio returned every pending mark"
    );
    h.run_until(ms(2000));

    let events = h.events();
    assert!(events.contains(&Event::MarkPlayed {
        name: "after-200ms".into()
    }));
    assert!(events.contains(&Event::MarkCleared {
        name: "after-360ms".into()
    }));
    assert!(events.contains(&Event::MarkCleared {
        name: "after-1000ms".into()
    }));
    assert!(!events.contains(&Event::MarkPlayed {
        name: "after-360ms".into()
    }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::UtterancePlayed { .. }))
    );
    // Confirmed progress stays at the last mark played before the clear.
    assert_eq!(
        h.stream.played(),
        Some(PlaybackPosition {
            utterance: first,
            samples: 2400
        })
    );
    assert_eq!(h.twilio.played.len(), 330 / 20 * 160);
    assert_eq!(h.stream.queued_duration(), Duration::ZERO);

    // Audio pushed after the clear is a new utterance, played from an idle player.
    let t_push = h.now;
    let next = h.stream.push_ulaw(&speech(800, 11));
    assert_ne!(next, first);
    h.stream.finish_utterance();
    h.run_until(ms(2200));
    let (t, _) = h
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::UtterancePlayed { utterance, .. } if *utterance == next))
        .expect("the new utterance was played");
    assert_eq!(t.duration_since(t_push), ms(100));
    assert_eq!(
        h.stream.played(),
        Some(PlaybackPosition {
            utterance: next,
            samples: 800
        })
    );
}

#[test]
fn clear_before_anything_was_played_reports_nothing_heard() {
    let mut h = Harness::started(MediaStream::default());
    h.stream.push_ulaw(&speech(800, 12));
    h.stream.push_mark("m").unwrap();
    assert_eq!(h.stream.clear(h.now), None);
    h.exchange();
    assert_eq!(
        h.events().last(),
        Some(&Event::MarkCleared { name: "m".into() })
    );
    // Only the clear went out.
    assert_eq!(h.twilio.received.len(), 1);
    assert_eq!(h.twilio.clears, 1);
}

#[test]
fn messages_for_another_stream_are_rejected_without_effect() {
    let mut h = Harness::started(MediaStream::default());
    let other = r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1",
        "timestamp":"0","payload":"AAAA"},"streamSid":"MZ00000000000000000000000000000000"}"#;
    let err = h.stream.handle_text(h.now, other).unwrap_err();
    assert!(matches!(err, Error::WrongStream { .. }), "{err}");
    assert_eq!(h.stream.audio_available(), 0);
    // The rejected message did not count for sequence numbering.
    h.twilio.caller_media(h.now, &[0xFF; 160]);
    h.exchange();
    assert_eq!(h.stream.audio_available(), 160);
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, Event::SequenceGap { .. }))
    );
}

#[test]
fn sequence_gaps_are_events_not_failures() {
    let mut stream = MediaStream::default();
    let now = std::time::Instant::now();
    let mut twilio = common::FakeTwilio::new(now);
    twilio.connect();
    while let Some(m) = twilio.take_outbox() {
        stream.handle_text(now, &m).unwrap();
    }
    let media = |seq: u64| {
        format!(
            r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound","chunk":"{seq}","timestamp":"0","payload":"/w=="}},"streamSid":"{}"}}"#,
            common::STREAM_SID
        )
    };
    for seq in [2, 5, 6, 6, 4, 7] {
        stream.handle_text(now, &media(seq)).unwrap();
    }
    let gaps: Vec<_> = std::iter::from_fn(|| stream.poll_event())
        .filter_map(|e| match e {
            Event::SequenceGap { expected, received } => Some((expected, received)),
            _ => None,
        })
        .collect();
    assert_eq!(gaps, [(3, 5), (7, 6), (7, 4)]);
    assert_eq!(stream.audio_available(), 6);
}

#[test]
fn inbound_audio_is_decoded_in_order_and_bounded() {
    let mut h = Harness::started(MediaStream::new(
        Config::default().with_inbound_capacity(400),
    ));
    let frames: Vec<Vec<u8>> = (0..3).map(|i| speech(160, 20 + i)).collect();
    for frame in &frames {
        h.twilio.caller_media(h.now, frame);
    }
    h.exchange();
    let expected: Vec<i16> = frames.concat()[80..]
        .iter()
        .map(|&b| kav_audio_codec::ulaw_decode(&[b])[0])
        .collect();
    assert_eq!(h.stream.audio_available(), 400);
    assert!(h.events().contains(&Event::InboundOverflow {
        dropped_samples: 80
    }));
    let mut out = vec![0i16; 1000];
    assert_eq!(h.stream.read_audio(&mut out[..150]), 150);
    assert_eq!(h.stream.read_audio(&mut out[150..]), 250);
    assert_eq!(&out[..400], &expected[..]);
    assert_eq!(h.stream.read_audio(&mut out), 0);
}

#[test]
fn dtmf_and_stop() {
    let mut h = Harness::started(MediaStream::default());
    let dtmf = format!(
        r##"{{"event":"dtmf","streamSid":"{}","sequenceNumber":"2","dtmf":{{"track":"inbound_track","digit":"#"}}}}"##,
        common::STREAM_SID
    );
    h.stream.handle_text(h.now, &dtmf).unwrap();
    h.stream.push_ulaw(&speech(1600, 1));
    h.twilio.stop();
    h.exchange();
    let events = h.events();
    assert!(events.contains(&Event::Dtmf(kav_media_stream::DtmfDigit::new('#').unwrap())));
    assert_eq!(events.last(), Some(&Event::Stopped));
    assert!(h.stream.is_stopped());
    assert!(h.stream.poll_transmit(h.now).is_none());
    assert_eq!(h.stream.poll_timeout(), None);
    let err = h.stream.handle_text(h.now, &dtmf).unwrap_err();
    assert!(matches!(
        err,
        Error::UnexpectedMessage {
            event: "dtmf",
            state: "stopped"
        }
    ));
}

#[test]
fn nothing_is_sent_before_start_and_only_start_opens_the_stream() {
    let mut h = Harness::new(MediaStream::default());
    let queued = h.stream.push_ulaw(&speech(320, 2));
    assert!(h.stream.poll_transmit(h.now).is_none());
    assert_eq!(h.stream.poll_timeout(), None);
    let early = format!(
        r#"{{"event":"mark","sequenceNumber":"1","streamSid":"{}","mark":{{"name":"x"}}}}"#,
        common::STREAM_SID
    );
    let err = h.stream.handle_text(h.now, &early).unwrap_err();
    assert!(matches!(
        err,
        Error::UnexpectedMessage {
            event: "mark",
            state: "awaiting start"
        }
    ));
    h.twilio.connect();
    h.exchange();
    assert_eq!(
        h.stream.metadata().unwrap().custom_parameters["business_id"],
        "1"
    );
    assert_eq!(h.stream.stream_sid().unwrap(), common::STREAM_SID);
    let events = h.events();
    assert!(matches!(events[0], Event::Connected { ref protocol, .. } if protocol == "Call"));
    assert!(matches!(events[1], Event::Started { .. }));
    assert!(!h.twilio.played.is_empty() || h.twilio.buffered(h.now) > Duration::ZERO);
    h.run_until(ms(100));
    assert_eq!(h.twilio.played, speech(320, 2));
    assert_eq!(
        h.stream.played_estimate(h.now),
        Some(PlaybackPosition {
            utterance: queued,
            samples: 320
        })
    );
    // A second start is refused.
    h.twilio.connect();
    let connected = h.twilio.take_outbox().unwrap();
    assert!(h.stream.handle_text(h.now, &connected).is_err());
}

#[test]
fn unknown_marks_are_reported() {
    let mut h = Harness::started(MediaStream::default());
    let mark = format!(
        r#"{{"event":"mark","sequenceNumber":"2","streamSid":"{}","mark":{{"name":"not ours"}}}}"#,
        common::STREAM_SID
    );
    h.stream.handle_text(h.now, &mark).unwrap();
    assert_eq!(
        h.stream.poll_event(),
        Some(Event::UnknownMark {
            name: "not ours".into()
        })
    );
}
