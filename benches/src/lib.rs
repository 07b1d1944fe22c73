//! What the benches share. The benches measure the reference solutions
//! themselves (they are dependencies of this crate), next to the naive
//! version and the crates a user would pick instead; this file only holds
//! the plumbing: input, a poll loop without a runtime, and the ratios.
//! Run them with `cargo bench -p benches`.

use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use futures::Stream;

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
    fn length_prefixed_frames_count_and_decode() {
        let wire = length_prefixed(3, 5);
        assert_eq!(wire.len(), 3 * 9);
        assert_eq!(&wire[..4], &5_u32.to_be_bytes());
        let frames = count_ready(solution_04_pinned_decoder::FrameReader::new(&wire[..]));
        assert_eq!(frames, 3);
    }
}
