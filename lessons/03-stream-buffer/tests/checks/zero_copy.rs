//! A response is the very bytes the connection wrote into the session's
//! buffer, not a copy of them; and handing out a line costs no allocation.

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, count_allocations, paused_runtime, within};

use super::{drain, payloads};

#[tokio::test(start_paused = true)]
async fn lines_are_the_bytes_the_connection_wrote() {
    // Whole lines inside one read, and lines cut across reads; the last line
    // ends with the connection, not with a `\n`, and is a view too.
    let chunks = ["alpha\nbeta\ngam", "ma\ndelta\nepsilon\n", "zeta\neta"];
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
        checked >= 6,
        "only {checked} lines arrived whole in one read: read into a buffer \
         with room for a whole chunk (these are under 30 bytes)"
    );
}

#[test]
fn handing_out_a_line_allocates_nothing() {
    const LINES: usize = 2_000;
    let text: String = (0..LINES).map(|n| format!("response {n:>10}\n")).collect();
    // 100 lines of 20 bytes a read, as a busy connection delivers them; then
    // one line a read, as a slow one does (where anything allocated per read,
    // a `Vec` of the read's lines say, is allocated per line).
    for (read, connection) in [(2_000, "busy"), (20, "slow")] {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(read).collect();
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
        // A buffer of a few KiB holds about 200 lines, and a new one is
        // needed only when snapshots still share the old one: a handful of
        // allocations per buffer, plus the task and the channel. A copy per
        // line is 2,000.
        assert!(
            counted.count_total < (LINES / 10) as u64,
            "{} allocations for {LINES} lines from a {connection} connection: \
             a line must be a view of the buffer (`split_to(..).freeze()`), and \
             nothing may be allocated per line or per read",
            counted.count_total,
        );
    }
}

#[test]
fn a_line_that_takes_many_reads_is_not_copied_on_each_read() {
    // One line of 8,000 bytes that comes 20 bytes a read, as a slow peer
    // sends it. Each read goes into the room after the bytes before it; the
    // buffer grows now and then (`reserve` doubles it). Copying the
    // unfinished line into a fresh buffer after each read costs 400
    // allocations, and copies the line 400 times.
    const LINE: usize = 8_000;
    const READ: usize = 20;
    let mut text = vec![b'z'; LINE];
    text.push(b'\n');
    let chunks: Vec<&[u8]> = text.chunks(READ).collect();
    let reads = chunks.len();
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);
    let runtime = paused_runtime();

    let (items, counted) = count_allocations(|| {
        runtime.block_on(async {
            let mut stream = Box::pin(Session::new(reader).into_stream(4));
            let line = within("the long line", stream.next()).await;
            let end = within("the end of the stream", stream.next()).await;
            (line, end)
        })
    });

    let line = items
        .0
        .expect("one line")
        .expect("no read error was scripted");
    assert_eq!(line.payload.len(), LINE);
    assert!(items.1.is_none(), "one line, then the end");
    // The last read wrote the line's last bytes where the line now is.
    let last = *probe.written().last().expect("the reader was read");
    assert_eq!(
        line.payload.as_ptr() as usize + last.offset,
        last.address,
        "the line's last bytes are not where the last read wrote them: the \
         line was copied after the read"
    );
    assert!(
        counted.count_total < (reads / 10) as u64,
        "{} allocations for one line that took {reads} reads: the unfinished \
         line is copied into a new buffer after each read; read into the room \
         after it, and let `reserve` grow the buffer when it is full",
        counted.count_total,
    );
}
