//! A connection that sends something wrong is closed, with a clear error,
//! and only that connection: the others, and the ones that come later, are
//! not disturbed, and the frames it sent before the bad one are not lost. A
//! connection that sends nothing holds up nobody. Past the limit,
//! connections wait their turn, and lose nothing.

use lesson::Pipeline;
use lesson_support::count_allocations;
use tokio::io::AsyncWriteExt;

use super::{
    Look, assert_complete_and_in_order, closed_by_server, config, connect_ingest, frame, origin,
    quiet, receive, send_frames, start, start_on_this_thread, subscribe, summary, until, watched,
    wire,
};

#[tokio::test]
async fn an_oversize_frame_closes_only_its_connection_with_a_clear_error() {
    let mut config = config();
    config.max_frame_length = 1024;
    let pipeline = start(config).await;
    let mut stream = subscribe(&pipeline).await;

    // Connected before the bad frame, and still sending after it.
    let mut steady = connect_ingest(&pipeline).await;
    steady
        .write_all(&wire((0..50).map(|n| frame(1, n, 100))))
        .await
        .unwrap();

    let mut bad = connect_ingest(&pipeline).await;
    let mut bytes = wire((0..3).map(|n| frame(2, n, 100)));
    bytes.extend_from_slice(&(1u32 << 30).to_be_bytes()); // 1 GiB announced
    bytes.extend_from_slice(&[0; 100]);
    bad.write_all(&bytes).await.unwrap();
    watched(
        Look::Pipeline(&pipeline),
        "the bad connection to be closed",
        closed_by_server(&mut bad),
    )
    .await;

    steady
        .write_all(&wire((50..100).map(|n| frame(1, n, 100))))
        .await
        .unwrap();
    // A connection after the bad one is accepted as usual.
    let later = send_frames(&pipeline, 3, 20, 100);

    let snapshots = receive(&pipeline, &mut stream, 100 + 3 + 20).await;
    watched(
        Look::Pipeline(&pipeline),
        "the later client to finish",
        later,
    )
    .await
    .unwrap();
    assert_complete_and_in_order(&snapshots, &[(1, 100), (2, 3), (3, 20)]);

    let summary = until(&pipeline, "the error to be reported", |s| {
        !s.connection_errors.is_empty()
    })
    .await;
    assert_eq!(summary.connection_errors.len(), 1, "one connection failed");
    let error = &summary.connection_errors[0];
    assert_eq!(error.peer, bad.local_addr().unwrap(), "the bad one");
    assert_eq!(
        error.connection, 1,
        "connections are numbered from 0 in the order accepted: the bad one came second"
    );
    assert!(
        error.error.contains("1073741824") && error.error.contains("1024"),
        "the error says how long the frame claimed to be and what the limit is: {:?}",
        error.error
    );
    // In words: lesson 04's own, as its `FrameError` displays them.
    let words = solution_04_pinned_decoder::FrameError::TooLong {
        length: 1 << 30,
        max: 1024,
    }
    .to_string();
    assert!(
        error.error.contains(&words),
        "the error, {:?}, does not say it in lesson 04's words, {words:?}: a `FrameError` \
         displayed (`{{error}}`, `to_string()`), not its `Debug` form",
        error.error
    );
}

#[tokio::test]
async fn a_connection_that_ends_inside_a_frame_is_reported_and_its_frames_before_go_on() {
    let pipeline = start(config()).await;
    let mut stream = subscribe(&pipeline).await;
    let mut cut = connect_ingest(&pipeline).await;
    let mut bytes = wire((0..5).map(|n| frame(4, n, 40)));
    bytes.extend_from_slice(&100u32.to_be_bytes());
    bytes.extend_from_slice(&[9; 30]); // 70 bytes short
    cut.write_all(&bytes).await.unwrap();
    cut.shutdown().await.unwrap();
    watched(
        Look::Pipeline(&pipeline),
        "the cut connection to be closed",
        closed_by_server(&mut cut),
    )
    .await;

    let snapshots = receive(&pipeline, &mut stream, 5).await;
    assert_complete_and_in_order(&snapshots, &[(4, 5)]);
    let summary = until(&pipeline, "the error to be reported", |s| {
        !s.connection_errors.is_empty()
    })
    .await;
    assert_eq!(summary.connection_errors.len(), 1);
    assert!(
        summary.connection_errors[0].error.contains("70"),
        "the error says how many bytes are missing: {:?}",
        summary.connection_errors[0].error
    );
}

#[tokio::test]
async fn a_silent_connection_holds_up_no_other() {
    // More clients waiting inside a frame than the queue has places: a
    // client the pipeline is still reading from holds none of them (a
    // connection that reserves its place before it reads holds one each).
    let mut config = config();
    config.ingest_capacity = 2;
    let pipeline = start(config).await;
    let mut stream = subscribe(&pipeline).await;
    // Connected first, and silent until the end of the check, each inside a
    // frame of 16 bytes: in its payload, after its length prefix, and
    // inside the prefix. What each still owes comes at the end.
    let parts: [(&[u8], &[u8]); 3] = [
        (&[0, 0, 0, 16, 1, 2], &[0; 14]),
        (&[0, 0, 0, 16], &[0; 16]),
        (
            &[0, 0],
            &[0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ];
    let mut silent = Vec::new();
    for (first, _) in parts {
        let mut client = connect_ingest(&pipeline).await;
        client.write_all(first).await.unwrap();
        silent.push(client);
    }
    until(&pipeline, "the silent clients to be accepted", |s| {
        s.connections == 3
    })
    .await;

    let talker = send_frames(&pipeline, 5, 200, 50);
    let snapshots = receive(&pipeline, &mut stream, 200).await;
    assert_complete_and_in_order(&snapshots, &[(5, 200)]);
    watched(Look::Pipeline(&pipeline), "the talker to finish", talker)
        .await
        .unwrap();

    // The silent ones were never closed for being slow: each can finish.
    for (client, (_, rest)) in silent.iter_mut().zip(parts) {
        client.write_all(rest).await.unwrap();
        let snapshots = receive(&pipeline, &mut stream, 1).await;
        assert_eq!(snapshots[0].payload.len(), 16, "the frame it finished");
    }
}

// A client that connects and sends not a byte yet: nothing says it ever
// will, so nothing may wait for it to (a connection that is handed a task
// only once it is readable holds up every one behind it).
#[tokio::test]
async fn a_client_that_connects_and_says_nothing_holds_up_no_other() {
    let pipeline = start(config()).await;
    let mut stream = subscribe(&pipeline).await;
    // Connected first (its handshake is done, so it is first in the
    // listener's backlog), and mute.
    let mut mute = connect_ingest(&pipeline).await;

    let talker = send_frames(&pipeline, 5, 20, 50);
    let snapshots = receive(&pipeline, &mut stream, 20).await;
    assert_complete_and_in_order(&snapshots, &[(5, 20)]);
    watched(Look::Pipeline(&pipeline), "the talker to finish", talker)
        .await
        .unwrap();

    // Not closed for its silence: the frame it sends now arrives.
    mute.write_all(&wire([frame(6, 0, 50)])).await.unwrap();
    let snapshots = receive(&pipeline, &mut stream, 1).await;
    assert_complete_and_in_order(&snapshots, &[(6, 1)]);
}

/// How a client whose turn came ends its connection: each way must give
/// its turn back.
fn hang_up(client: u32) -> Vec<u8> {
    match client % 3 {
        // Closes its side after its frame.
        0 => Vec::new(),
        // A frame announcing 1 GiB: closed by the pipeline, with an error.
        1 => (1u32 << 30).to_be_bytes().to_vec(),
        // Cut 90 bytes into a frame: closed, with an error.
        _ => {
            let mut bytes = 100u32.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[7; 10]);
            bytes
        }
    }
}

#[tokio::test]
async fn connections_past_the_limit_wait_their_turn_and_lose_nothing() {
    const LIMIT: usize = 4;
    const CLIENTS: u32 = 10 * LIMIT as u32;
    let mut config = config();
    config.max_connections = LIMIT;
    config.max_frame_length = 1024;
    let pipeline = start(config).await;
    let mut stream = subscribe(&pipeline).await;

    // Ten times the limit, at once: each sends one frame and stays open.
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let mut socket = connect_ingest(&pipeline).await;
        socket
            .write_all(&wire([frame(client, 0, 40)]))
            .await
            .unwrap();
        clients.push(Some(socket));
    }

    let mut snapshots = Vec::new();
    let mut closed = 0;
    for round in 0.. {
        // The clients being served send their frame; the others wait.
        let due = LIMIT.min(CLIENTS as usize - snapshots.len());
        let served = receive(&pipeline, &mut stream, due).await;
        if round == 0 {
            // Nothing else moves: no other client is read meanwhile.
            let held = quiet(&pipeline).await;
            assert_eq!(
                held.published,
                (closed + LIMIT) as u64,
                "{} frames published from {CLIENTS} clients that each sent one and stayed open, \
                 {closed} of them closed since: with a limit of {LIMIT}, only {LIMIT} may be read \
                 at a time",
                held.published
            );
            assert!(
                held.connections <= (closed + LIMIT + 1) as u64,
                "{} connections accepted, {closed} of them closed since, with a limit of \
                 {LIMIT}: a connection waiting for its turn is not accepted (its socket and its \
                 task are the cost the limit is there to bound)",
                held.connections
            );
        }
        // Those clients hang up, each its own way; that gives their turns
        // to the next ones.
        for snapshot in &served {
            let (client, _) = origin(&snapshot.payload);
            let mut socket = clients[client as usize]
                .take()
                .expect("one frame per client");
            // The pipeline may close a bad connection first: no matter.
            let _ = socket.write_all(&hang_up(client)).await;
            let _ = socket.shutdown().await;
            closed += 1;
        }
        snapshots.extend(served);
        if snapshots.len() == CLIENTS as usize {
            break;
        }
    }
    let sent: Vec<_> = (0..CLIENTS).map(|client| (client, 1)).collect();
    assert_complete_and_in_order(&snapshots, &sent);

    let errors = (0..CLIENTS).filter(|client| client % 3 != 0).count();
    let summary = until(&pipeline, "every bad connection to be reported", |s| {
        s.connection_errors.len() >= errors
    })
    .await;
    assert_eq!(summary.connections, u64::from(CLIENTS));
    assert_eq!(summary.connection_errors.len(), errors);
    // Each connection has a number of its own, from 0 in the order accepted.
    let numbers: std::collections::BTreeSet<u64> = summary
        .connection_errors
        .iter()
        .map(|error| error.connection)
        .collect();
    assert_eq!(
        numbers.len(),
        errors,
        "{errors} connections failed, and their errors name {} connection numbers: {numbers:?}",
        numbers.len()
    );
    assert!(
        numbers.iter().all(|&n| n < u64::from(CLIENTS)),
        "connections are numbered from 0 in the order accepted: {numbers:?}"
    );
}

/// One round of `n` clients, one after another: each connects, sends one
/// frame and ends its connection in one of the three ways of [`hang_up`]
/// (a clean close, a frame too long, a frame cut short); the round ends
/// once every frame is published, every error reported, and the pipeline
/// is quiet.
async fn one_at_a_time(pipeline: &Pipeline, first: u32, n: u32) {
    for client in first..first + n {
        let mut bytes = wire([frame(client, 0, 16)]);
        bytes.extend(hang_up(client));
        let sent = super::send(pipeline, bytes);
        watched(Look::Pipeline(pipeline), "the client to finish", sent)
            .await
            .unwrap();
    }
    let all = first + n;
    let errors = (0..all).filter(|client| client % 3 != 0).count();
    until(
        pipeline,
        "every frame published and every error reported",
        |s| s.published == u64::from(all) && s.connection_errors.len() == errors,
    )
    .await;
    quiet(pipeline).await;
}

#[test]
fn connections_that_ended_leave_nothing_behind_while_the_pipeline_runs() {
    const ROUND: u32 = 48;
    let mut config = config();
    config.max_frame_length = 1024;
    let (runtime, pipeline) = start_on_this_thread(config);
    // A first round grows what grows once: the runtime's I/O slots, the
    // queues' blocks, the arena's slots.
    runtime.block_on(one_at_a_time(&pipeline, 0, ROUND));
    let ((), counted) =
        count_allocations(|| runtime.block_on(one_at_a_time(&pipeline, ROUND, ROUND)));
    // A connection that ended leaves nothing but its error, if it had one
    // (its words, one allocation): its task is gone, and with it its buffer
    // and its socket. A task kept after it ended (in a `JoinSet` nobody
    // joins, a `Vec` of handles, a map cleaned only on a clean close) holds
    // its memory for as long as the pipeline runs.
    let errors = (ROUND..2 * ROUND).filter(|client| client % 3 != 0).count() as i64;
    assert!(
        counted.count_current < errors + i64::from(ROUND) / 4,
        "{ROUND} more connections, each ended ({errors} of them with an error), left {} \
         allocations ({} bytes) alive: something is kept per connection after it ends, \
         besides its error (a finished task nobody reaps? one that ended with an error?)",
        counted.count_current,
        counted.bytes_current
    );
    runtime.block_on(pipeline.shutdown());
}

#[tokio::test]
async fn as_many_clients_as_the_limit_are_served_at_once() {
    // A limit 25 times the one of the check above (4), and above a cap of
    // its own that a pipeline might put under the configured one (64
    // sockets, say): every client up to the limit is served, none waits
    // for a turn.
    const LIMIT: usize = 100;
    let mut config = config();
    config.max_connections = LIMIT;
    let pipeline = start(config).await;
    let mut stream = subscribe(&pipeline).await;

    // As many clients as the limit, at once: each sends one frame and
    // stays open.
    let mut clients = Vec::new();
    for client in 0..LIMIT as u32 {
        let mut socket = connect_ingest(&pipeline).await;
        socket
            .write_all(&wire([frame(client, 0, 16)]))
            .await
            .unwrap();
        clients.push(socket);
    }
    // A client under the limit that waits for a turn never sends its frame
    // on: the wait stalls, and says how many arrived.
    let snapshots = receive(&pipeline, &mut stream, LIMIT).await;
    let sent: Vec<_> = (0..LIMIT as u32).map(|client| (client, 1)).collect();
    assert_complete_and_in_order(&snapshots, &sent);
    let summary = summary(&pipeline).await;
    assert_eq!(
        summary.connections, LIMIT as u64,
        "{LIMIT} clients, all open, all served at once with max_connections at {LIMIT}"
    );
    drop(clients);
}

/// `batches` batches of [`AT_ONCE`] clients at once, each connecting,
/// sending one frame and hanging up; each batch ends once all are counted,
/// every frame is published and the pipeline is quiet.
const AT_ONCE: u64 = 64;

async fn many_connections_come_and_go(pipeline: &Pipeline, batches: u64) {
    for _ in 0..batches {
        let before = summary(pipeline).await;
        let clients: Vec<_> = (0..AT_ONCE as u32)
            .map(|client| super::send_frames(pipeline, client, 1, 16))
            .collect();
        for client in clients {
            watched(Look::Pipeline(pipeline), "the clients to finish", client)
                .await
                .unwrap();
        }
        until(
            pipeline,
            "every connection counted and its frame published",
            |s| {
                s.connections == before.connections + AT_ONCE
                    && s.published == before.published + AT_ONCE
            },
        )
        .await;
        quiet(pipeline).await;
    }
}

#[test]
fn many_connections_that_ended_leave_nothing_behind_while_the_pipeline_runs() {
    /// Less than a few bytes kept per connection that ended (256 more).
    const LEFT: i64 = 4 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config());
    // A first round grows what grows once. (Finished tasks kept until the
    // next client comes, at most a limit's worth, are not growth either:
    // the first round leaves as many as the counted one, so they cancel.)
    runtime.block_on(many_connections_come_and_go(&pipeline, 2));
    let ((), counted) =
        count_allocations(|| runtime.block_on(many_connections_come_and_go(&pipeline, 4)));
    assert!(
        counted.bytes_current < LEFT,
        "{} more connections, each ended, left {} bytes ({} allocations) alive: something \
         is kept per connection after it ends (a table of peers? a count of its frames?)",
        4 * AT_ONCE,
        counted.bytes_current,
        counted.count_current
    );
    // Dropped, not shut down: a pipeline whose shutdown hangs fails the
    // shutdown checks, not this one.
    drop(pipeline);
}
