//! A shutdown finishes what the pipeline took, ends every subscriber's
//! stream cleanly, and closes the doors.

use super::{
    Gated, Look, assert_complete_and_in_order, closed_by_server, config, connect_ingest, receive,
    send_frames, start, subscribe, until, watched,
};

#[tokio::test]
async fn shutdown_finishes_every_frame_taken_and_ends_the_streams() {
    const FRAMES: u32 = 300;
    let mut config = config();
    config.mailbox_capacity = 512;
    let pipeline = start(config).await;
    let (slow, gate, handled) = Gated::new("slow");
    pipeline.plug(slow).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 1, FRAMES, 40);
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    until(&pipeline, "every frame to be taken", |s| {
        s.frames_in == u64::from(FRAMES)
    })
    .await;

    // The plugin has handled nothing yet; it gets going during the shutdown.
    let shutdown = tokio::spawn(pipeline.shutdown());
    tokio::task::yield_now().await;
    gate.add_permits(FRAMES as usize);
    // The pipeline is the shutdown's now: what moves is what the plugin
    // handles.
    let summary = watched(Look::Handled(&handled), "the shutdown to finish", shutdown)
        .await
        .expect("shutdown does not panic");

    assert_eq!(summary.frames_in, u64::from(FRAMES));
    assert_eq!(
        summary.published,
        u64::from(FRAMES),
        "every frame taken is finished"
    );
    assert_eq!(handled.lock().unwrap().len(), FRAMES as usize);
    let snapshots = receive(Look::Nothing, &mut stream, FRAMES as usize).await;
    assert_complete_and_in_order(&snapshots, &[(1, FRAMES)]);
    let end = watched(Look::Nothing, "the stream to end", stream.message()).await;
    assert!(
        matches!(end, Ok(None)),
        "after a shutdown the stream ends cleanly, after the last frame: {end:?}"
    );
}

#[tokio::test]
async fn shutdown_closes_the_connections_and_the_ports() {
    let pipeline = start(config()).await;
    let ingest = pipeline.ingest_addr();
    let mut stream = subscribe(&pipeline).await;
    let mut open = connect_ingest(&pipeline).await;
    let client = send_frames(&pipeline, 2, 10, 16);
    receive(&pipeline, &mut stream, 10).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();

    // Nothing is left to do: a shutdown that does not end has stopped.
    let summary = watched(Look::Nothing, "the shutdown", pipeline.shutdown()).await;
    assert_eq!(summary.published, 10);
    watched(
        Look::Nothing,
        "the open connection to be closed",
        closed_by_server(&mut open),
    )
    .await;
    let refused = tokio::net::TcpStream::connect(ingest).await;
    assert!(
        refused.is_err(),
        "after a shutdown the ingest port takes no connection"
    );
    let end = watched(Look::Nothing, "the stream to end", stream.message()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}
