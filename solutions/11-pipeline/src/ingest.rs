//! The ingest side: a task that accepts connections, a limited number at a
//! time, and one task per connection that decodes its frames with lesson
//! 04's `FrameReader` and hands them to the loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use solution_04_pinned_decoder::FrameReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::event_loop::Ingest;
use crate::{ConnectionError, Counters};

// ANCHOR: accept
/// Accepts connections until the task is aborted, at most
/// `max_connections` at a time. Each connection runs in a task of its own,
/// in a `JoinSet` this task owns: one slow or silent connection holds up no
/// other, and aborting this task ends them all.
pub(crate) async fn accept(
    listener: TcpListener,
    ingest: mpsc::Sender<Ingest>,
    max_frame_length: usize,
    max_connections: usize,
    counters: Arc<Counters>,
) {
    let turns = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut next = 0;
    loop {
        // A turn first, then a connection: while every turn is taken, this
        // task accepts nothing, and the next clients wait in the listener's
        // backlog. The limit comes before the task, as lesson 08's does.
        let turn = Arc::clone(&turns)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (socket, peer) = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => break accepted,
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: the listener itself is fine. Wait a
                    // little rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                // Forget the connections that have ended.
                Some(_) = connections.join_next() => {}
            }
        };
        Counters::add(&counters.connections, 1);
        let handler = connection(
            next,
            peer,
            socket,
            ingest.clone(),
            max_frame_length,
            Arc::clone(&counters),
        );
        // The turn goes with the task, and is given back when the task
        // ends, however it ends: the client closed, a bad frame, an abort.
        connections.spawn(async move {
            handler.await;
            drop(turn);
        });
        next += 1;
    }
}
// ANCHOR_END: accept

// ANCHOR: connection
/// One connection: frames in, in order, until it ends. A bad frame closes
/// this connection (dropping the reader drops the socket), with a clear
/// error for the loop; the frames before it have gone on already.
async fn connection(
    connection: u64,
    peer: SocketAddr,
    socket: TcpStream,
    ingest: mpsc::Sender<Ingest>,
    max_frame_length: usize,
    counters: Arc<Counters>,
) {
    let mut frames = FrameReader::new(socket).with_max_frame_length(max_frame_length);
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(payload) => {
                let len = payload.len() as u64;
                // Waits while the loop's queue is full: meanwhile this task
                // reads nothing, and the client's writes wait for TCP.
                if ingest
                    .send(Ingest::Frame {
                        connection,
                        payload,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                Counters::add(&counters.frames_in, 1);
                Counters::add(&counters.bytes_in, len);
            }
            Err(error) => {
                let error = ConnectionError {
                    connection,
                    peer,
                    error: error.to_string(),
                };
                let _ = ingest.send(Ingest::Closed(error)).await;
                return;
            }
        }
    }
}
// ANCHOR_END: connection
