//! A snapshot is the very bytes the upstream wrote into the worker's
//! buffer, not a copy of them, and handing one out costs no allocation.
//! Checked on the stream `Feed::subscribe` returns (the client's copies
//! come from the network), with paused time.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use lesson::SnapshotFeed;
use lesson_support::{ScriptedReader, Then, count_allocations, paused_runtime, settle, within};
use tokio::io::{AsyncRead, ReadBuf};

use super::{Devices, Upstream, assert_in_order, record, subscribe_directly};

#[tokio::test(start_paused = true)]
async fn snapshots_are_the_bytes_the_upstream_wrote() {
    // Twelve records of 8 bytes in reads of 20, 32 and 44 bytes: ten arrive
    // whole in one read, two are cut across reads.
    let input: Vec<u8> = (0..12).flat_map(|n| record(n, 8)).collect();
    let chunks = [&input[..20], &input[20..52], &input[52..]];
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);
    let feed = Devices::default()
        .with("sensor", Upstream::new((reader, probe.clone())))
        .feed(8);

    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    let items: Vec<_> = within("the stream to end", stream.collect()).await;
    let snapshots: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("no error was scripted"))
        .collect();
    assert_eq!(snapshots.len(), 12);
    assert_in_order(&snapshots, 8);

    // A record that one read delivered whole must be found at the address
    // that read wrote it to: a view cut off the buffer. A copy
    // (`copy_from_slice`, `to_vec`, a read into a scratch array then
    // appended, a second buffer) lives somewhere else.
    let mut checked = 0;
    for (n, snapshot) in snapshots.iter().enumerate() {
        if let Some(written) = probe.written_at(n * 8, 8) {
            assert_eq!(
                snapshot.payload.as_ptr() as usize,
                written,
                "record {n} is not where the upstream wrote it: it was copied \
                 instead of cut off the buffer the upstream was read into",
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "ten records arrived whole in one read");
}

#[test]
fn handing_out_a_snapshot_allocates_nothing() {
    // 100 records a read, as a busy connection delivers them, and a client
    // that keeps up: each snapshot is dropped as soon as it is seen.
    allocations_for_2_000_records(2_000, false);
    // One record a read, as a quiet device sends them, to a client slower
    // than the device: at every read the queue (of the default 64) holds
    // views of the buffer. A new buffer is due when this one is nearly
    // full, not at every read because snapshots still share it.
    allocations_for_2_000_records(20, true);
}

/// Reads 2,000 records of 20 bytes that the upstream delivers `read` bytes
/// at a time, the client dropping each snapshot when it sees it, and
/// letting the worker fill the queue again first if `slow`.
fn allocations_for_2_000_records(read: usize, slow: bool) {
    const RECORDS: usize = 2_000;
    const LEN: usize = 20;
    let input: Vec<u8> = (0..RECORDS).flat_map(|n| record(n, LEN)).collect();
    let chunks: Vec<&[u8]> = input.chunks(read).collect();
    let upstream = Upstream::new(ScriptedReader::new(chunks, Then::Eof));
    let feed = Devices::default().with("sensor", upstream).feed(LEN);
    let runtime = paused_runtime();

    let (received, counted) = count_allocations(|| {
        runtime.block_on(async {
            let stream = subscribe_directly(&feed, "sensor")
                .await
                .expect("a known device");
            let mut stream = Box::pin(stream);
            let mut received = 0;
            // Each snapshot is dropped as soon as it is seen: the steady state.
            while let Some(item) = within("the next snapshot", stream.next()).await {
                item.expect("no error was scripted");
                received += 1;
                if slow {
                    // The worker reads again while the queue holds the rest.
                    tokio::task::yield_now().await;
                }
            }
            received
        })
    });

    assert_eq!(received, RECORDS);
    // A 16 KiB buffer holds 800 records, and a new one is needed only when
    // snapshots still share the old one: a handful of allocations per
    // buffer, plus the request, the task and the channel. A copy per record
    // is 2,000.
    assert!(
        counted.count_total < (RECORDS / 10) as u64,
        "{} allocations for {RECORDS} records in reads of {read} bytes (a slow \
         client: {slow}): a snapshot must be a view of the buffer \
         (`split_to(..).freeze()`), not a new allocation, and a buffer that \
         snapshots share is renewed when it is nearly full, not at every read",
        counted.count_total,
    );
}

#[tokio::test(start_paused = true)]
async fn records_that_are_ready_come_in_large_reads() {
    // 4,096 records of 16 bytes (64 KiB), all ready at once: the upstream
    // hands out as much as each read asks for. Every read is a system call
    // on a real connection.
    let input: Vec<u8> = (0..4096).flat_map(|n| record(n, 16)).collect();
    let (reader, probe) = ScriptedReader::new([input.as_slice()], Then::Eof);
    let feed = Devices::default()
        .with("sensor", Upstream::new((reader, probe.clone())))
        .feed(16)
        .with_capacity(4096);

    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    let items: Vec<_> = within("the stream to end", stream.collect()).await;
    assert_eq!(items.len(), 4096);

    probe.assert_large_reads(input.len(), 4096, "the last record");
}

#[test]
fn a_record_that_takes_many_reads_is_not_copied_on_each_read() {
    // One record of 4,000 bytes that comes 20 bytes a read, as a slow
    // device sends it. Each read goes into the room after the bytes before
    // it; the buffer grows now and then (`reserve` doubles it). Copying the
    // unfinished record into a fresh buffer after each read costs 200
    // allocations, and copies the record 200 times.
    const LEN: usize = 4_000;
    const READ: usize = 20;
    let input = record(0, LEN);
    let chunks: Vec<&[u8]> = input.chunks(READ).collect();
    let reads = chunks.len();
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);
    let feed = Devices::default()
        .with("sensor", Upstream::new((reader, probe.clone())))
        .feed(LEN);
    let runtime = paused_runtime();

    let (items, counted) = count_allocations(|| {
        runtime.block_on(async {
            let stream = subscribe_directly(&feed, "sensor")
                .await
                .expect("a known device");
            let items: Vec<_> = within("the stream to end", stream.take(10).collect()).await;
            items
        })
    });

    let snapshots: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("no error was scripted"))
        .collect();
    assert_eq!(snapshots.len(), 1, "one record, then the end");
    assert_in_order(&snapshots, LEN);
    // The last read wrote the record's last bytes where the record now is.
    let last = *probe.written().last().expect("the upstream was read");
    assert_eq!(
        snapshots[0].payload.as_ptr() as usize + last.offset,
        last.address,
        "the record's last bytes are not where the last read wrote them: the \
         record was copied after the read"
    );
    assert!(
        counted.count_total < (reads / 10) as u64,
        "{} allocations for one record that took {reads} reads: the unfinished \
         record is copied into a new buffer after each read; read into the room \
         after it, and let `reserve` grow the buffer when it is full",
        counted.count_total,
    );
}

/// A device that never ends: record after record, one per read, made as it
/// is read. It keeps nothing itself, so that what stays allocated while it
/// is read is the feed's.
struct Endless {
    len: usize,
    next: usize,
    at: usize,
}

impl AsyncRead for Endless {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let record = record(self.next, self.len);
        let n = (self.len - self.at).min(out.remaining());
        out.put_slice(&record[self.at..self.at + n]);
        self.at += n;
        if self.at == self.len {
            self.at = 0;
            self.next += 1;
        }
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_live_subscription_keeps_nothing_per_record() {
    // A subscription lives as long as its device: what its worker keeps for
    // each record it forwards (a list of what it sent) adds up for ever.
    // Both counts start and end in the same state: the client has just
    // read, and the worker has filled the queue again and waits for room.
    const FEW: usize = 100;
    const LEN: usize = 20;
    let runtime = paused_runtime();
    let feed = SnapshotFeed::new(LEN, |_: &str| {
        Some(Endless {
            len: LEN,
            next: 0,
            at: 0,
        })
    })
    .with_capacity(4);
    let stream = runtime
        .block_on(subscribe_directly(&feed, "sensor"))
        .expect("every device is known");
    let mut stream = Box::pin(stream);
    let mut seq = 0;
    let mut read = |records: usize| {
        runtime.block_on(async {
            for _ in 0..records {
                let item = within("the next record", stream.next()).await;
                let snapshot = item
                    .expect("the device never ends")
                    .expect("no error was scripted");
                assert_eq!(snapshot.seq, seq);
                seq += 1;
            }
            settle().await;
        })
    };
    // The first records may set up what a subscription keeps for good.
    read(FEW);

    let ((), few) = count_allocations(|| read(FEW));
    let ((), many) = count_allocations(|| read(10 * FEW));
    assert!(
        many.bytes_current <= few.bytes_current,
        "a live subscription forwarded {FEW} records and kept {} bytes more \
         alive, then forwarded {} and kept {} bytes more: something is kept per \
         record for as long as the subscription lives",
        few.bytes_current,
        10 * FEW,
        many.bytes_current,
    );
}
