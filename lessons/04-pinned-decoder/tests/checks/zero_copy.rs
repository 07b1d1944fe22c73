//! A frame is the very bytes the reader wrote, not a copy; and once frames
//! are dropped as they are used, decoding more of them allocates nothing.

use futures::StreamExt;
use lesson::FrameReader;
use lesson_support::{
    ScriptedReader, Then, count_allocations, drain_ready, paused_runtime, within,
};

use super::{encode, frames};

#[test]
fn frames_are_the_bytes_the_reader_wrote() {
    let payloads: Vec<String> = (0..12).map(|n| format!("frame number {n}")).collect();
    let wire = encode(&payloads);
    // Reads of 60 bytes: some frames arrive whole, some across two reads.
    let (reader, probe) = ScriptedReader::new(wire.chunks(60), Then::Eof);

    let items = drain_ready(FrameReader::new(reader), payloads.len() + 1);
    let got = frames(&items);
    assert_eq!(
        got,
        payloads
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect::<Vec<_>>()
    );

    // Where each payload starts in the input. A frame that one read
    // delivered whole, length and payload, must be found where that read
    // wrote it: a view of the buffer the reader filled. A copy
    // (`copy_from_slice`, `to_vec`, a read into a scratch array) is not.
    let mut offset = 0;
    let mut checked = 0;
    for (item, payload) in items.iter().zip(&payloads) {
        let frame = item.as_ref().unwrap();
        if let Some(written) = probe.written_at(offset, 4 + payload.len()) {
            assert_eq!(
                frame.as_ptr() as usize,
                written + 4,
                "frame {payload:?} is not where the reader wrote it: it was copied \
                 (after the read, or into the read) instead of cut off the buffer \
                 the reader filled"
            );
            checked += 1;
        }
        offset += 4 + payload.len();
    }
    assert!(
        checked >= 6,
        "only {checked} frames arrived whole in one read: read into a buffer \
         with room for a whole read (these are 60 bytes)"
    );
}

/// Allocations made while decoding `count` frames of 1 KiB, each dropped
/// as soon as it is seen.
fn allocations_for(count: usize) -> u64 {
    let payloads = vec![vec![7_u8; 1024]; count];
    let wire = encode(&payloads);
    let (reader, _probe) = ScriptedReader::new(wire.chunks(4096), Then::Eof);
    let runtime = paused_runtime();
    let (seen, counted) = count_allocations(|| {
        runtime.block_on(async {
            let mut stream = Box::pin(FrameReader::new(reader));
            let mut seen = 0;
            while let Some(item) = within("the next frame", stream.next()).await {
                assert_eq!(item.expect("no error").len(), 1024);
                seen += 1;
            }
            seen
        })
    });
    assert_eq!(seen, count);
    counted.count_total
}

#[test]
fn decoding_allocates_nothing_per_frame_in_the_steady_state() {
    let few = allocations_for(1_000);
    let many = allocations_for(10_000);
    // Ten times the frames, and no more allocations than for the first
    // thousand: the buffer is reused once its frames are dropped.
    assert!(
        many <= few + 4,
        "1,000 frames cost {few} allocations and 10,000 cost {many}: something \
         allocates per frame (a copied payload, a new buffer per read)"
    );
}

#[test]
fn frames_the_consumer_keeps_cost_no_allocation_each() {
    // 2,000 frames of 16 bytes, one a read, as a peer sends them one at a
    // time, and the consumer keeps every one. The frames share the buffer
    // they were cut from, so the decoder cannot reuse its front: it needs a
    // new buffer when this one is used up, not before. Asking for a full
    // read's room before every read does not fit once a frame is cut off,
    // and takes a new 8 KiB buffer per frame (2 allocations a frame).
    const FRAMES: usize = 2_000;
    let payloads: Vec<String> = (0..FRAMES).map(|n| format!("frame {n:>10}")).collect();
    let wire = encode(&payloads);
    let (reader, _probe) = ScriptedReader::new(wire.chunks(20), Then::Eof);

    let (items, counted) = count_allocations(|| drain_ready(FrameReader::new(reader), FRAMES + 1));

    assert_eq!(frames(&items).len(), FRAMES);
    // A few KiB of buffer holds a couple of hundred of these frames: a new
    // buffer now and then, plus the `Vec` that keeps the frames.
    assert!(
        counted.count_total < (FRAMES / 10) as u64,
        "{} allocations for {FRAMES} frames that the consumer keeps: make a \
         new buffer when the old one is used up, not whenever a full read's \
         room is not free",
        counted.count_total,
    );
}
