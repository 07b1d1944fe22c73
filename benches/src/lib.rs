//! The code the benches measure, kept here so that the benches compare the
//! same work done two ways. Run them with `cargo bench -p benches`.

use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use futures::Stream;

/// Cuts every complete line off `buf` as a view into it (lesson 03's fix).
pub fn cut_lines_as_views(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut lines = Vec::new();
    while let Some(newline) = buf.iter().position(|byte| *byte == b'\n') {
        let mut line = buf.split_to(newline + 1).freeze();
        line.truncate(newline);
        lines.push(line);
    }
    lines
}

/// Copies every complete line out of `buf` (the seed text's fix).
pub fn cut_lines_as_copies(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut lines = Vec::new();
    while let Some(newline) = buf.iter().position(|byte| *byte == b'\n') {
        lines.push(Bytes::copy_from_slice(&buf[..newline]));
        let _ = buf.split_to(newline + 1);
    }
    lines
}

/// Polls `stream` to its end with a waker that does nothing, for streams
/// over input that is all in memory (they never wait); returns how many
/// items it yielded. No runtime, so the bench measures the stream alone.
pub fn count_ready<S: Stream>(stream: S) -> usize {
    let mut stream = pin!(stream);
    let mut cx = Context::from_waker(Waker::noop());
    let mut count = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(_)) => count += 1,
            Poll::Ready(None) => return count,
            Poll::Pending => panic!("an in-memory stream never waits"),
        }
    }
}

/// `frames` frames of `len` bytes each, in the wire form of lesson 04: a
/// big-endian `u32` length, then the payload.
pub fn length_prefixed(frames: usize, len: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(frames * (4 + len));
    for n in 0..frames {
        wire.extend_from_slice(&(len as u32).to_be_bytes());
        wire.extend((0..len).map(|i| (n + i) as u8));
    }
    wire
}

/// The mean time of one criterion benchmark of the last run, in
/// nanoseconds, from the estimates criterion saved (`None` in `--test`
/// mode, which saves none).
pub fn mean_ns(group: &str, function: &str, parameter: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<bench> -> target/criterion
    let target: PathBuf = exe.ancestors().nth(3)?.to_path_buf();
    let path = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("criterion"))
        .join(group)
        .join(function)
        .join(parameter)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

/// Prints how many times the throughput of `ours` that of `theirs` was, for
/// each parameter, after a criterion run: the claims are ratios.
pub fn print_ratios(group: &str, ours: &str, theirs: &str, parameters: &[&str]) {
    for parameter in parameters {
        let (Some(a), Some(b)) = (
            mean_ns(group, ours, parameter),
            mean_ns(group, theirs, parameter),
        ) else {
            continue;
        };
        println!(
            "{group}/{parameter}: {ours} does {:.2}x the work per second of {theirs}",
            b / a
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_cut_the_same_lines_and_only_views_share_the_buffer() {
        let input = b"alpha\nbeta\n\ngamma\npartial";
        let mut a = BytesMut::from(&input[..]);
        let mut b = BytesMut::from(&input[..]);
        let base = a.as_ptr() as usize;
        let views = cut_lines_as_views(&mut a);
        let copies = cut_lines_as_copies(&mut b);
        assert_eq!(views, copies);
        assert_eq!((&a[..], &b[..]), (&b"partial"[..], &b"partial"[..]));
        // The views point into the original buffer, at the lines' offsets.
        let offsets: Vec<usize> = views.iter().map(|v| v.as_ptr() as usize - base).collect();
        assert_eq!(offsets, [0, 6, 11, 12]);
    }
}
