//! Lesson 03: the reference `Session` (a worker owns the buffer, lines go
//! out as `Bytes` views over a bounded channel), against a raw tokio mpsc
//! channel carrying the same lines ready-made, and against the session plus
//! a copy of every line (what the seed text's copying fix pays on top),
//! and against the session's own reading and cutting with no channel and
//! no task (`read_and_cut`): with the bare channel, the two parts of the
//! session's time.
//! Then one long line arriving in many reads: the session searches each
//! byte once, so the time per byte stays flat as the line grows.

use std::hint::black_box;
use std::io::Cursor;

use benches::print_ratios;
use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::StreamExt;
use solution_03_stream_buffer::Session;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

const CAPACITY: usize = 64;
const TOTAL: usize = 1 << 20;
const SIZES: [(usize, &str); 3] = [(64, "64B"), (256, "256B"), (1024, "1KiB")];

/// About 1 MiB of lines of `len` bytes, the last byte of each a newline.
fn text(len: usize) -> Bytes {
    let mut line = vec![b'x'; len - 1];
    line.push(b'\n');
    Bytes::from(line.repeat(TOTAL / len))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

/// Every line through the session, each dropped as it arrives.
async fn session(input: Bytes, copy: bool) -> usize {
    let mut lines = Box::pin(Session::new(Cursor::new(input)).into_stream(CAPACITY));
    let mut count = 0;
    while let Some(line) = lines.next().await {
        let payload = line.expect("no read error").payload;
        if copy {
            black_box(Bytes::copy_from_slice(&payload));
        }
        count += 1;
    }
    count
}

/// What the session does besides the channel: read into a buffer kept
/// across reads (16 KiB at a time, as the session does), find each newline
/// with `memchr` and cut the line off as a `Bytes` view. No task, no channel.
async fn read_and_cut(input: Bytes) -> usize {
    const READ_SIZE: usize = 16 * 1024;
    let mut reader = Cursor::new(input);
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut searched = 0;
    let mut count = 0;
    loop {
        buf.reserve(READ_SIZE);
        if reader.read_buf(&mut buf).await.expect("an in-memory read") == 0 {
            return count;
        }
        while let Some(at) = memchr::memchr(b'\n', &buf[searched..]) {
            let line = buf.split_to(searched + at + 1).freeze();
            black_box(line.slice(..line.len() - 1));
            count += 1;
            searched = 0;
        }
        searched = buf.len();
    }
}

/// The same lines, already cut, through a bare channel of the same size.
async fn channel(lines: Vec<Bytes>) -> usize {
    let (tx, mut rx) = mpsc::channel(CAPACITY);
    tokio::spawn(async move {
        for line in lines {
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    let mut count = 0;
    while let Some(line) = rx.recv().await {
        black_box(line);
        count += 1;
    }
    count
}

fn session_vs_channel(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("session");
    for (len, name) in SIZES {
        let input = text(len);
        let lines: Vec<Bytes> = (0..input.len() / len)
            .map(|n| input.slice(n * len..(n + 1) * len - 1))
            .collect();
        let count = lines.len();
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("views", name), &input, |b, input| {
            b.iter(|| assert_eq!(runtime.block_on(session(input.clone(), false)), count))
        });
        group.bench_with_input(BenchmarkId::new("copies", name), &input, |b, input| {
            b.iter(|| assert_eq!(runtime.block_on(session(input.clone(), true)), count))
        });
        group.bench_with_input(BenchmarkId::new("raw_channel", name), &lines, |b, lines| {
            b.iter(|| assert_eq!(runtime.block_on(channel(lines.clone())), count))
        });
        group.bench_with_input(
            BenchmarkId::new("read_and_cut", name),
            &input,
            |b, input| b.iter(|| assert_eq!(runtime.block_on(read_and_cut(input.clone())), count)),
        );
    }
    group.finish();
}

const LONG: [(usize, &str); 3] = [
    (16 << 10, "16KiB"),
    (256 << 10, "256KiB"),
    (1 << 20, "1MiB"),
];

fn long_line(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("long_line");
    for (len, name) in LONG {
        let input = text(len).slice(..len); // one line
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("views", name), &input, |b, input| {
            b.iter(|| {
                let session = Session::new(Cursor::new(input.clone())).with_max_line_length(len);
                let lines: Vec<_> =
                    runtime.block_on(async { session.into_stream(CAPACITY).collect().await });
                assert_eq!(lines.len(), 1);
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    session_vs_channel(&mut criterion);
    long_line(&mut criterion);
    criterion.final_summary();
    let names: Vec<&str> = SIZES.iter().map(|(_, name)| *name).collect();
    print_ratios("session", "views", "raw_channel", &names);
    print_ratios("session", "views", "copies", &names);
    print_ratios("session", "views", "read_and_cut", &names);
}
