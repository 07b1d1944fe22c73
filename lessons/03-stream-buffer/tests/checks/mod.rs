//! What a fixed session promises. Each file is one promise; a failing test's
//! name says which one is broken.

mod back_pressure;
mod cancellation;
mod line_length;
mod order;
mod owned_stream;
mod reads;
mod zero_copy;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use futures::{Stream, StreamExt};
use lesson::Snapshot;
use lesson_support::within;

/// More items than any check's input makes: `drain` stops there.
const MOST_ITEMS: usize = 10_000;

/// Reads every item of `stream` until it ends, or fails the check if it
/// does not end. A stream that is always ready (one that yields its error
/// again and again) never lets a timer fire, so `drain` also stops after
/// `MOST_ITEMS` items, and the check's count of items fails.
async fn drain<S>(stream: S) -> Vec<std::io::Result<Snapshot>>
where
    S: Stream<Item = std::io::Result<Snapshot>>,
{
    within("the stream to end", stream.take(MOST_ITEMS).collect()).await
}

/// Comes 50 ms late to `stream`, whose queue of one is full by then, and
/// reads it to the end: three lines `a`, `b`, `c`, then an error, which
/// must have waited for room like the lines did. Returns that error.
async fn three_lines_then_an_error_for_a_late_consumer<S>(stream: S) -> std::io::Error
where
    S: Stream<Item = std::io::Result<Snapshot>>,
{
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut items = drain(stream).await;
    assert_eq!(
        items.len(),
        4,
        "three lines, then the error; an item sent with `try_send` into a full \
         queue is lost: {items:?}"
    );
    assert_eq!(payloads(&items[..3]), ["a", "b", "c"]);
    items
        .pop()
        .and_then(Result::err)
        .expect("the error is the last item")
}

/// The payloads of `items`, as text, failing on any error item.
fn payloads(items: &[std::io::Result<Snapshot>]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            let snapshot = item.as_ref().expect("no read error was scripted");
            String::from_utf8_lossy(&snapshot.payload).into_owned()
        })
        .collect()
}
