//! Lesson 03: what handing out lines as views saves over copying them.
//! Both cut the same 64 KiB buffer of lines of the given size.

use std::hint::black_box;

use benches::{cut_lines_as_copies, cut_lines_as_views};
use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn input(line_len: usize) -> BytesMut {
    let mut line = vec![b'x'; line_len - 1];
    line.push(b'\n');
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while buf.len() + line.len() <= 64 * 1024 {
        buf.extend_from_slice(&line);
    }
    buf
}

fn line_cutting(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_cutting");
    for line_len in [16, 256, 4096] {
        let buf = input(line_len);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_with_input(BenchmarkId::new("views", line_len), &buf, |b, buf| {
            b.iter(|| cut_lines_as_views(&mut black_box(buf.clone())))
        });
        group.bench_with_input(BenchmarkId::new("copies", line_len), &buf, |b, buf| {
            b.iter(|| cut_lines_as_copies(&mut black_box(buf.clone())))
        });
    }
    group.finish();
}

criterion_group!(benches, line_cutting);
criterion_main!(benches);
