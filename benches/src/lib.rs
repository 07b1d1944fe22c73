//! The code the benches measure, kept here so that the benches compare the
//! same work done two ways. Run them with `cargo bench -p benches`.

use bytes::{Bytes, BytesMut};

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
