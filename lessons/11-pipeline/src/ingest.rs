//! The ingest side: a task that accepts connections and decodes their
//! frames with lesson 04's `FrameReader`, and hands them to the loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use solution_04_pinned_decoder::FrameReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::Counters;
use crate::event_loop::Ingest;

// ANCHOR: accept
/// Accepts connections until the task is aborted, and reads each to its
/// end. One connection at a time keeps the frames in order.
pub(crate) async fn accept(
    listener: TcpListener,
    ingest: mpsc::UnboundedSender<Ingest>,
    max_frame_length: usize,
    _max_connections: usize,
    counters: Arc<Counters>,
) {
    let mut next = 0;
    loop {
        match listener.accept().await {
            Ok((socket, peer)) => {
                Counters::add(&counters.connections, 1);
                connection(next, peer, socket, &ingest, max_frame_length, &counters).await;
                next += 1;
            }
            // Out of file descriptors, or a connection reset before it was
            // accepted: the listener itself is fine. Wait a little rather
            // than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: connection
/// One connection: frames in, in order, until it ends.
async fn connection(
    connection: u64,
    _peer: SocketAddr,
    socket: TcpStream,
    ingest: &mpsc::UnboundedSender<Ingest>,
    max_frame_length: usize,
    counters: &Counters,
) {
    let mut frames = FrameReader::new(socket).with_max_frame_length(max_frame_length);
    while let Some(Ok(payload)) = frames.next().await {
        let len = payload.len() as u64;
        if ingest
            .send(Ingest::Frame {
                connection,
                payload,
            })
            .is_err()
        {
            return;
        }
        Counters::add(&counters.frames_in, 1);
        Counters::add(&counters.bytes_in, len);
    }
}
// ANCHOR_END: connection
