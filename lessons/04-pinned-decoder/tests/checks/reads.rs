//! Every read is a system call on a real socket: small frames that are
//! there already come in large reads, and a large frame is read into one
//! allocation of about its size, not regrown step by step.

use lesson::FrameReader;
use lesson_support::{ScriptedReader, Then, count_allocations, drain_ready};

use super::{encode, frames};

#[test]
fn small_frames_that_are_ready_come_in_large_reads() {
    // 4,096 frames of 12 bytes (64 KiB on the wire), all ready at once: the
    // reader hands out as much as each read asks for.
    let payloads = vec![*b"twelve bytes"; 4096];
    let wire = encode(&payloads);
    let (reader, probe) = ScriptedReader::new([wire.as_slice()], Then::Eof);

    let items = drain_ready(FrameReader::new(reader), payloads.len() + 1);

    assert_eq!(frames(&items).len(), payloads.len());
    // At least 4 KiB a read, on average (tokio's own framing reads 8 KiB).
    probe.assert_large_reads(wire.len(), 4096, "the last frame");
}

#[test]
fn a_large_frame_is_read_into_one_allocation_of_its_size() {
    const LEN: usize = 1024 * 1024;
    let wire = encode(&[vec![7_u8; LEN]]);
    // 64 KiB reads, as a socket might deliver them.
    let (reader, _probe) = ScriptedReader::new(wire.chunks(64 * 1024), Then::Eof);

    let (items, counted) = count_allocations(|| drain_ready(FrameReader::new(reader), 2));

    assert_eq!(items.len(), 1, "one frame, then the end");
    assert_eq!(items[0].as_ref().map(|frame| frame.len()).ok(), Some(LEN));
    // Once the header says how long the frame is, one allocation can hold
    // it. Growing the buffer read by read (doubling from a few KiB) costs
    // a dozen allocations and copies the frame again and again; room for
    // one read more than the frame, asked when its last bytes are due,
    // regrows the full buffer to twice its size.
    assert!(
        counted.count_total <= 8 && counted.bytes_total < (LEN + LEN / 4) as u64,
        "a 1 MiB frame cost {} allocations of {} KiB in all: reserve the \
         whole frame once its length is known",
        counted.count_total,
        counted.bytes_total / 1024
    );
}
