//! Lesson 04: the reference `FrameReader` against tokio-util's
//! `FramedRead` + `LengthDelimitedCodec`, decoding the same bytes from
//! memory: 64 B, 1 KiB and 64 KiB frames, about 4 MiB of them. Beside them
//! the floor under both: the same bytes copied into a buffer 8 KiB at a
//! time, with no frame cut (`copy_only`). After the run it prints the
//! ratios, which are what the chapter quotes.

use std::hint::black_box;

use benches::{count_ready, length_prefixed, print_ratios};
use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput};
use solution_04_pinned_decoder::FrameReader;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

const SIZES: [(usize, &str); 3] = [(64, "64B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// What both decoders do at least: copy every byte of `wire` into a
/// buffer, 8 KiB at a time (the reference reader's read size): what any
/// reader of these bytes must do, with no `AsyncRead` and no frame.
fn copy_only(wire: &[u8]) -> usize {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut copied = 0;
    for chunk in wire.chunks(8 * 1024) {
        buf.clear();
        buf.extend_from_slice(chunk);
        copied += black_box(&buf[..]).len();
    }
    copied
}

fn frame_decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_decoding");
    for (len, name) in SIZES {
        let frames = (4 << 20) / (4 + len);
        let wire = length_prefixed(frames, len);
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_with_input(BenchmarkId::new("frame_reader", name), &wire, |b, wire| {
            b.iter(|| {
                let count = count_ready(FrameReader::new(black_box(&wire[..])));
                assert_eq!(count, frames);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("length_delimited_codec", name),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let framed = FramedRead::new(black_box(&wire[..]), LengthDelimitedCodec::new());
                    assert_eq!(count_ready(framed), frames);
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("copy_only", name), &wire, |b, wire| {
            b.iter(|| assert_eq!(copy_only(black_box(&wire[..])), wire.len()))
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    frame_decoding(&mut criterion);
    criterion.final_summary();
    let names: Vec<&str> = SIZES.iter().map(|(_, name)| *name).collect();
    print_ratios(
        "frame_decoding",
        "frame_reader",
        "length_delimited_codec",
        &names,
    );
    print_ratios("frame_decoding", "frame_reader", "copy_only", &names);
}
