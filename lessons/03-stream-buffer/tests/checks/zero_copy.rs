//! A response is the very bytes the connection wrote into the session's
//! buffer, not a copy of them; and handing out a line costs no allocation.

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, count_allocations, paused_runtime, within};

use super::{drain, payloads};

#[tokio::test(start_paused = true)]
async fn lines_are_the_bytes_the_connection_wrote() {
    // Whole lines inside one read, and lines cut across reads.
    let chunks = ["alpha\nbeta\ngam", "ma\ndelta\nepsilon\n", "zeta\neta\n"];
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);

    let items = drain(Session::new(reader).into_stream(4)).await;
    let lines = payloads(&items);
    assert_eq!(
        lines,
        ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]
    );

    // Where each line starts in the input. A line that one read delivered
    // whole must be found at the address that read wrote it to: a view cut
    // off the buffer. A copy (`copy_from_slice`, `to_vec`, a read into a
    // scratch array then appended, a second buffer) lives somewhere else.
    let mut offset = 0;
    let mut checked = 0;
    for (item, line) in items.iter().zip(&lines) {
        let payload = &item.as_ref().unwrap().payload;
        if let Some(written) = probe.written_at(offset, line.len()) {
            assert_eq!(
                payload.as_ptr() as usize,
                written,
                "line {line:?} is not where the connection wrote it: it was copied \
                 (after the read, or into the read) instead of cut off the buffer \
                 the connection was read into",
            );
            checked += 1;
        }
        offset += line.len() + 1;
    }
    assert!(
        checked >= 5,
        "only {checked} lines arrived whole in one read: read into a buffer \
         with room for a whole chunk (these are under 30 bytes)"
    );
}

#[test]
fn handing_out_a_line_allocates_nothing() {
    const LINES: usize = 2_000;
    // 100 lines of 20 bytes a read, as a busy connection delivers them.
    let text: String = (0..LINES).map(|n| format!("response {n:>10}\n")).collect();
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(2_000).collect();
    let (reader, _probe) = ScriptedReader::new(chunks, Then::Eof);
    let runtime = paused_runtime();

    let (received, counted) = count_allocations(|| {
        runtime.block_on(async {
            let mut stream = Box::pin(Session::new(reader).into_stream(16));
            let mut received = 0;
            // Each line is dropped as soon as it is seen: the steady state.
            while let Some(item) = within("the next line", stream.next()).await {
                item.expect("no read error was scripted");
                received += 1;
            }
            received
        })
    });

    assert_eq!(received, LINES);
    // A buffer of a few KiB holds about 200 lines, and a new one is needed
    // only when snapshots still share the old one: a handful of allocations
    // per buffer, plus the task and the channel. A copy per line is 2,000.
    assert!(
        counted.count_total < (LINES / 10) as u64,
        "{} allocations for {LINES} lines: a line must be a view of the \
         buffer (`split_to(..).freeze()`), not a new allocation",
        counted.count_total,
    );
}
