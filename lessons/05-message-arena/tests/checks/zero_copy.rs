//! A frame is the very bytes the connection wrote, from the read to the
//! plugin: the arena keeps the `Bytes` it is given, not a copy, and the loop
//! reads each frame into the memory its plugins will see: one receive
//! buffer, reused, from which many frames are cut.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lesson::{EventLoop, MessageArena, Plugin, Release};
use lesson_support::{ScriptedReader, Then, count_allocations, within};

use super::{Recorder, wire};

#[test]
fn inserting_a_message_copies_nothing() {
    const SIZE: usize = 256 * 1024;
    let payload = Bytes::from(vec![7_u8; SIZE]);
    let handle = payload.clone();
    let mut arena = MessageArena::new();

    let (msg, counted) = count_allocations(|| arena.insert(handle));

    assert!(
        counted.bytes_total < 4096,
        "inserting a {SIZE}-byte message allocated {} bytes: the arena must keep the `Bytes` \
         it is given (a reference count), not copy the payload (`to_vec`, `copy_from_slice`)",
        counted.bytes_total
    );
    let kept = arena.get(msg).expect("the message was just inserted");
    assert_eq!(
        kept.as_ptr(),
        payload.as_ptr(),
        "the arena holds a copy of the message, not the message"
    );
    match arena.release(msg) {
        Release::Freed(bytes) => assert_eq!(bytes.as_ptr(), payload.as_ptr()),
        other => panic!("one holder, one release: expected the message back, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn plugins_see_the_bytes_the_connection_wrote() {
    let payloads: Vec<Vec<u8>> = (1..=60_usize)
        .map(|n| format!("{n:>3} ").repeat(n).into_bytes())
        .collect();
    // Three frames a read: a frame that comes after another in the same read
    // is in the receive buffer already, and is cut from it where it is.
    let chunks: Vec<Vec<u8>> = wire(&payloads).chunks(3).map(|c| c.concat()).collect();
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);
    let plugin = Recorder::new(|_| Duration::from_millis(1));
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 8);

    let read = within("the loop to finish", event_loop.run(reader))
        .await
        .expect("no read error was scripted");
    assert_eq!(read, payloads.len() as u64);

    // Where each frame's bytes are in the input: after its 4-byte length.
    // A frame that one read delivered whole must reach the plugin at the
    // address that read wrote it to. A copy out of a reused receive buffer
    // (or any other copy) lives somewhere else.
    let seen = plugin.addresses();
    assert_eq!(seen.len(), payloads.len(), "every frame reaches the plugin");
    let mut offset = 0;
    let mut checked = 0;
    for payload in &payloads {
        let start = offset + 4;
        offset = start + payload.len();
        let Some(written) = probe.written_at(start, payload.len()) else {
            continue;
        };
        let (_, address) = seen
            .iter()
            .find(|(frame, _)| frame == payload)
            .expect("every frame reaches the plugin");
        assert_eq!(
            *address,
            written,
            "frame of {} bytes is not where the connection wrote it: it was copied, \
             instead of read into memory of its own that the plugins then share",
            payload.len()
        );
        checked += 1;
    }
    assert!(
        checked >= 50,
        "only {checked} frames arrived whole in one read: read a frame into room for all of it"
    );
}

#[tokio::test(start_paused = true)]
async fn frames_are_cut_from_one_reused_receive_buffer() {
    // Small frames, one per read, each held by the plugin across an `.await`
    // while the loop reads on.
    const FRAMES: usize = 400;
    let payloads: Vec<Vec<u8>> = (0..FRAMES)
        .map(|n| format!("frame {n:>3}").into_bytes())
        .collect();
    let (reader, _probe) = ScriptedReader::new(wire(&payloads), Then::Eof);
    let plugin = Recorder::new(|_| Duration::from_millis(1));
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 8);

    let read = within("the loop to finish", event_loop.run(reader))
        .await
        .expect("no read error was scripted");
    assert_eq!(read, FRAMES as u64);

    // Read into one buffer, frame n + 1 starts where the connection put it:
    // right after frame n's last byte and its own 4-byte length (or right
    // after frame n, if the lengths are read elsewhere). Frames of 9 bytes
    // in allocations of their own are never that close: allocators round a
    // block up to a multiple of 8 bytes at least (16, and a header, here).
    let at: HashMap<Vec<u8>, usize> = plugin.addresses().into_iter().collect();
    let mut shared = 0;
    for pair in payloads.windows(2) {
        let end = at[&pair[0]] + pair[0].len();
        if at[&pair[1]].wrapping_sub(end) <= 4 {
            shared += 1;
        }
    }
    assert!(
        shared >= (FRAMES - 1) * 9 / 10,
        "only {shared} of {} frames follow the frame before them in memory: each frame \
         was read into an allocation of its own (a `Vec` or a `BytesMut` per frame, or \
         a buffer that makes a new chunk per frame while plugins hold the last one), \
         instead of being cut (`split_to`, `freeze`) from one reused receive buffer",
        FRAMES - 1
    );
}
