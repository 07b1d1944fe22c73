//! How the stream ends: cleanly between frames, with an error saying how
//! many bytes were missing inside one, or with the reader's error after the
//! frames before it. After an error, the stream is over.

use std::io::ErrorKind;

use lesson::{FrameError, FrameReader};
use lesson_support::{ScriptedReader, Then, drain_ready};

use super::{encode, frames};

#[test]
fn a_clean_end_between_frames_ends_the_stream() {
    let (reader, _probe) = ScriptedReader::new(Vec::<Vec<u8>>::new(), Then::Eof);
    assert!(
        drain_ready(FrameReader::new(reader), 1).is_empty(),
        "no input is no frame and no error"
    );

    let (reader, _probe) = ScriptedReader::new([encode(&["a", "b"])], Then::Eof);
    assert_eq!(
        frames(&drain_ready(FrameReader::new(reader), 3)),
        [b"a", b"b"]
    );
}

#[test]
fn input_that_ends_inside_a_frame_says_how_many_bytes_are_missing() {
    let mut wire = encode(&["whole"]);
    wire.extend_from_slice(&10_u32.to_be_bytes());
    wire.extend_from_slice(b"only");
    let (reader, _probe) = ScriptedReader::new([wire], Then::Eof);

    let items = drain_ready(FrameReader::new(reader), 3);

    assert_eq!(frames(&items[..1]), [b"whole"]);
    match &items[1..] {
        [Err(error @ FrameError::Truncated { missing: 6 })] => assert!(
            error.to_string().contains('6'),
            "the message says how many bytes are missing: {error}"
        ),
        other => panic!("expected Truncated {{ missing: 6 }} and the end, got {other:?}"),
    }
}

#[test]
fn a_read_error_reaches_the_consumer_after_the_frames_before_it() {
    // Two frames in one read, then the error: the second is already in the
    // buffer when the reader fails, and comes before the error.
    let (reader, probe) = ScriptedReader::new([encode(&["before", "also"])], Then::Fail);

    let items = drain_ready(FrameReader::new(reader), 4);

    assert_eq!(frames(&items[..2]), [&b"before"[..], b"also"]);
    match &items[2..] {
        [Err(error @ FrameError::Io(io))] => {
            assert_eq!(io.kind(), ErrorKind::ConnectionReset);
            // The reader's error stays in the chain, for `{:#}` in anyhow,
            // for logs, for a caller that looks for the io::Error.
            let source = std::error::Error::source(error)
                .and_then(|source| source.downcast_ref::<std::io::Error>());
            assert_eq!(
                source.map(|io| io.kind()),
                Some(ErrorKind::ConnectionReset),
                "the frame error's source() is the reader's error"
            );
        }
        other => panic!("expected the read error and the end, got {other:?}"),
    }
    assert!(
        probe.dropped(),
        "the stream has ended and dropped its reader"
    );
}

#[test]
fn a_read_error_is_that_error_wherever_it_comes_and_whatever_its_kind() {
    // A socket reports a reset once; the next read says end of input. An
    // error dropped on the floor then looks like a clean end, and one taken
    // for a truncated frame loses what went wrong. `WouldBlock` is an
    // error here too: a reader that is not ready says `Pending`. And so is
    // `Interrupted`: std's blocking `read_exact` retries it, but an
    // `AsyncRead` reports it only when it chose not to retry (tokio's
    // adapters of blocking I/O retry it themselves, and its `read_exact`
    // passes it on), and this decoder retries nothing.
    let whole = encode(&["before"]);
    let half = {
        let mut wire = whole.clone();
        wire.extend_from_slice(&encode(&["inside a frame"])[..9]);
        wire
    };
    for kind in [
        ErrorKind::ConnectionReset,
        ErrorKind::UnexpectedEof,
        ErrorKind::WouldBlock,
        ErrorKind::Interrupted,
    ] {
        for (wire, place) in [(&whole, "after a frame"), (&half, "inside a frame")] {
            let (reader, probe) = ScriptedReader::new([wire], Then::FailOnce(kind));

            let items = drain_ready(FrameReader::new(reader), 3);

            assert_eq!(frames(&items[..1]), [b"before"], "{kind:?} {place}");
            match &items[1..] {
                [Err(FrameError::Io(error))] => assert_eq!(error.kind(), kind, "{place}"),
                other => panic!(
                    "a {kind:?} error {place}: expected the frame, then that error, then the \
                     end; got the frame, then {other:?}"
                ),
            }
            assert!(
                probe.dropped(),
                "the stream has ended and dropped its reader"
            );
        }
    }
}
