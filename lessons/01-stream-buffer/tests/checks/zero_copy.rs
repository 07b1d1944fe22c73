//! A response is a view into the buffer the connection was read into, not a
//! copy of it: lines read together stay side by side in one allocation.

use lesson::Session;
use lesson_support::{ScriptedReader, Then};

use super::{drain, payloads};

#[tokio::test(start_paused = true)]
async fn lines_of_one_read_are_views_into_one_buffer() {
    let text = "alpha\nbeta\ngamma\n";
    let (reader, _probe) = ScriptedReader::new([text], Then::Eof);

    let items = drain(Session::new(reader).into_stream(4)).await;
    assert_eq!(payloads(&items), ["alpha", "beta", "gamma"]);

    // Where each line starts in `text`. If every payload is a view into the
    // one buffer that received `text`, their addresses keep these distances.
    // A copied payload lives in its own allocation, somewhere else.
    let first = items[0].as_ref().unwrap().payload.as_ptr() as usize;
    for (item, offset) in items.iter().zip([0, 6, 11]) {
        let address = item.as_ref().unwrap().payload.as_ptr() as usize;
        assert_eq!(
            address.wrapping_sub(first),
            offset,
            "line {:?} is not where it was read: it was copied \
             (`Bytes::copy_from_slice`, `to_vec`, ...) instead of cut off the buffer",
            item.as_ref().unwrap().payload,
        );
    }
}
