//! Every read is a system call on a real socket: lines that are there
//! already come in large reads, not a few bytes at a time.

use lesson::{DEFAULT_MAX_LINE_LENGTH, Session};
use lesson_support::{ScriptedReader, Then};

use super::{drain, payloads};

#[tokio::test(start_paused = true)]
async fn lines_that_are_ready_come_in_large_reads() {
    // 4,096 lines of 18 bytes (72 KiB), all ready at once: the connection
    // hands out as much as each read asks for. The line limit bounds a
    // line, not a read: a low one asks for no smaller reads.
    let text = "a line of sixteen\n".repeat(4096);
    for limit in [DEFAULT_MAX_LINE_LENGTH, 64] {
        let (reader, probe) = ScriptedReader::new([text.as_bytes()], Then::Eof);
        let session = Session::new(reader).with_max_line_length(limit);

        let items = drain(session.into_stream(4096)).await;

        assert_eq!(payloads(&items).len(), 4096);
        let after = format!("the last line (with a line limit of {limit})");
        probe.assert_large_reads(text.len(), 4096, &after);
    }
}
