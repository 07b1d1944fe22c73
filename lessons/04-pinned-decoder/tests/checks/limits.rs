//! A frame may be at most `max_frame_length` bytes (8 MiB by default). A
//! longer one is an error naming its length and the limit, found from the
//! header alone: nothing is allocated for it.

use lesson::{DEFAULT_MAX_FRAME_LENGTH, FrameError, FrameReader};
use lesson_support::{ScriptedReader, Then, count_allocations, drain_ready};

use super::{encode, frames};

#[test]
fn an_oversize_frame_is_refused_before_anything_is_allocated_for_it() {
    const MAX: usize = 64 * 1024;
    const ANNOUNCED: usize = 512 * 1024 * 1024;
    let mut wire = encode(&["fine"]);
    wire.extend_from_slice(&(ANNOUNCED as u32).to_be_bytes());
    wire.extend_from_slice(b"the start of a huge frame");
    let (reader, probe) = ScriptedReader::new([wire], Then::Eof);

    let (items, counted) =
        count_allocations(|| drain_ready(FrameReader::new(reader).with_max_frame_length(MAX), 3));

    assert_eq!(frames(&items[..1]), [b"fine"]);
    assert_eq!(
        items.len(),
        2,
        "one frame, then the error, then the end: {items:?}"
    );
    match &items[1] {
        Err(error @ FrameError::TooLong { length, max }) => {
            assert_eq!((*length, *max), (ANNOUNCED, MAX));
            let text = error.to_string();
            assert!(
                text.contains(&ANNOUNCED.to_string()) && text.contains(&MAX.to_string()),
                "the message names the length and the limit: {text}"
            );
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert!(
        probe.dropped(),
        "the stream has ended and dropped its reader"
    );
    assert!(
        counted.bytes_max < MAX as u64,
        "the reader held {} bytes at once for a frame it had to refuse",
        counted.bytes_max
    );
}

#[test]
fn a_frame_of_exactly_the_limit_is_accepted_and_the_default_is_8_mib() {
    assert_eq!(DEFAULT_MAX_FRAME_LENGTH, 8 * 1024 * 1024);
    let payloads = [vec![1_u8; 100], vec![2_u8; 99]];
    let wire = encode(&payloads);
    let (reader, _probe) = ScriptedReader::new(wire.chunks(64), Then::Eof);

    let items = drain_ready(FrameReader::new(reader).with_max_frame_length(100), 3);

    assert_eq!(frames(&items), payloads);
}

#[test]
fn a_frame_one_byte_over_the_limit_is_refused() {
    let wire = encode(&[vec![0_u8; 101]]);
    let (reader, _probe) = ScriptedReader::new([wire], Then::Eof);

    let items = drain_ready(FrameReader::new(reader).with_max_frame_length(100), 2);

    assert!(
        matches!(
            items[..],
            [Err(FrameError::TooLong {
                length: 101,
                max: 100
            })]
        ),
        "{items:?}"
    );
}

#[test]
fn a_limit_above_the_default_is_honoured() {
    // 9 MiB, over the default of 8 MiB, under the 16 MiB asked for.
    const LEN: usize = 9 * 1024 * 1024;
    let wire = encode(&[vec![3_u8; LEN]]);
    let (reader, _probe) = ScriptedReader::new(wire.chunks(1024 * 1024), Then::Eof);

    let (items, counted) = count_allocations(|| {
        drain_ready(
            FrameReader::new(reader).with_max_frame_length(2 * DEFAULT_MAX_FRAME_LENGTH),
            2,
        )
    });

    match &items[..] {
        [Ok(frame)] => assert_eq!(frame.len(), LEN),
        other => panic!(
            "a 9 MiB frame under a limit of 16 MiB is a frame, not {:?}",
            other
                .iter()
                .map(|item| item.as_ref().map(|f| f.len()))
                .collect::<Vec<_>>()
        ),
    }
    // The configured limit, not the default, bounds the room made for a
    // frame: this one too arrives in one allocation of about its size.
    assert!(
        counted.count_total <= 8 && counted.bytes_total < (LEN + LEN / 4) as u64,
        "a 9 MiB frame cost {} allocations of {} KiB in all: the room for a \
         frame is bounded by the configured limit, not the default",
        counted.count_total,
        counted.bytes_total / 1024
    );
}

#[test]
fn a_limit_of_zero_allows_only_empty_frames() {
    let wire = encode(&["", "", "x", "never"]);
    let (reader, _probe) = ScriptedReader::new([wire], Then::Eof);

    let items = drain_ready(FrameReader::new(reader).with_max_frame_length(0), 5);

    assert_eq!(frames(&items[..2]), [b"", b""]);
    assert!(
        matches!(items[2..], [Err(FrameError::TooLong { length: 1, max: 0 })]),
        "a frame of one byte is over a limit of 0, and the stream ends: {items:?}"
    );
}
