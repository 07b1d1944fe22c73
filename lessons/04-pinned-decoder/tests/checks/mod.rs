//! What a fixed frame reader promises. Each file is one promise; a failing
//! test's name says which one is broken.

mod back_pressure;
mod chunking;
mod ends;
mod limits;
mod pinning;
mod reads;
mod zero_copy;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use bytes::Bytes;
use lesson::FrameError;

/// The wire form of `payloads`: each one after its length, a big-endian `u32`.
fn encode<P: AsRef<[u8]>>(payloads: &[P]) -> Vec<u8> {
    let mut wire = Vec::new();
    for payload in payloads {
        let payload = payload.as_ref();
        wire.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        wire.extend_from_slice(payload);
    }
    wire
}

/// The frames of `items`, failing on any error item.
fn frames(items: &[Result<Bytes, FrameError>]) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|item| match item {
            Ok(frame) => frame.to_vec(),
            Err(error) => panic!("no error was expected, got: {error}"),
        })
        .collect()
}
