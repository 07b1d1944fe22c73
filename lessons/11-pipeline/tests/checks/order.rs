//! Frames from several connections at once reach a subscriber complete, and
//! each connection's in the order it sent them; plugins see them in the
//! same order.

use super::{
    Look, Recorder, assert_complete_and_in_order, config, ids, plug, receive, send_frames, start,
    subscribe, until, watched,
};

// On both cores, as a server runs: tasks really run side by side, and a
// design that lets two frames of one connection race loses their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_frames_from_four_connections_arrive_complete_and_in_order() {
    const CLIENTS: u32 = 4;
    const PER_CLIENT: u32 = 2_500;
    // A subscriber with room for one snapshot: a publisher that does not
    // wait for room loses frames here at once, not only when it is unlucky.
    let mut config = config();
    config.subscriber_capacity = 1;
    let pipeline = start(config).await;
    let (audit, audited) = Recorder::new("audit");
    let (index, indexed) = Recorder::new("index");
    plug(&pipeline, audit).await;
    plug(&pipeline, index).await;
    let mut stream = subscribe(&pipeline).await;

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| send_frames(&pipeline, client, PER_CLIENT, 64))
        .collect();
    let total = (CLIENTS * PER_CLIENT) as usize;
    let snapshots = receive(&pipeline, &mut stream, total).await;
    for client in clients {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .expect("a client");
    }

    let sent: Vec<_> = (0..CLIENTS).map(|client| (client, PER_CLIENT)).collect();
    assert_complete_and_in_order(&snapshots, &sent);
    for (name, seen) in [("audit", &audited), ("index", &indexed)] {
        let ids = ids(seen);
        assert_eq!(ids.len(), total, "{name} saw every frame once");
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "{name} saw the frames in the order they were taken"
        );
    }
    let summary = until(&pipeline, "the summary to count every frame", |s| {
        s.published == total as u64
    })
    .await;
    assert_eq!(summary.frames_in, total as u64);
    assert_eq!(summary.bytes_in, total as u64 * 64);
    assert_eq!(summary.connections, u64::from(CLIENTS));
    assert!(
        summary.dead_letters.is_empty(),
        "{:?}",
        summary.dead_letters
    );
    assert!(summary.connection_errors.is_empty());
}

#[tokio::test]
async fn with_no_plugin_plugged_frames_go_straight_to_the_subscribers() {
    let pipeline = start(config()).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 7, 100, 32);
    let snapshots = receive(&pipeline, &mut stream, 100).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .expect("a client");
    assert_complete_and_in_order(&snapshots, &[(7, 100)]);
}

/// Sends `n` frames of 16 bytes from `client`, and waits until the client
/// has written them all.
async fn frames_from(pipeline: &lesson::Pipeline, client: u32, n: u32) {
    let sent = send_frames(pipeline, client, n, 16);
    watched(Look::Pipeline(pipeline), "the client to finish", sent)
        .await
        .expect("a client");
}

#[tokio::test]
async fn a_subscriber_that_comes_after_another_left_gets_every_frame_once() {
    let pipeline = start(config()).await;
    let first = subscribe(&pipeline).await;
    let mut second = subscribe(&pipeline).await;
    drop(first);
    // Published to both: the first is found gone, and forgotten.
    frames_from(&pipeline, 0, 10).await;
    assert_complete_and_in_order(&receive(&pipeline, &mut second, 10).await, &[(0, 10)]);
    // The third comes while two subscribers have been, and one is left.
    let mut third = subscribe(&pipeline).await;
    frames_from(&pipeline, 1, 10).await;
    for stream in [&mut second, &mut third] {
        assert_complete_and_in_order(&receive(&pipeline, stream, 10).await, &[(1, 10)]);
    }
    // The second goes too: the third, a subscriber of its own, stays.
    drop(second);
    frames_from(&pipeline, 2, 10).await;
    assert_complete_and_in_order(&receive(&pipeline, &mut third, 10).await, &[(2, 10)]);
}

#[tokio::test]
async fn subscribers_that_leave_together_take_no_other_with_them() {
    let pipeline = start(config()).await;
    // Four subscribers; the two in the middle go away together.
    let mut before = subscribe(&pipeline).await;
    let first = subscribe(&pipeline).await;
    let second = subscribe(&pipeline).await;
    let mut after = subscribe(&pipeline).await;
    frames_from(&pipeline, 0, 5).await;
    for stream in [&mut before, &mut after] {
        assert_complete_and_in_order(&receive(&pipeline, stream, 5).await, &[(0, 5)]);
    }
    drop(first);
    drop(second);
    // Time for the server to see both go before the next frame: the
    // pipeline then finds the two gone at once, and must drop those two.
    super::quiet(&pipeline).await;
    for client in [1, 2] {
        frames_from(&pipeline, client, 10).await;
        for stream in [&mut before, &mut after] {
            let snapshots = receive(&pipeline, stream, 10).await;
            assert_complete_and_in_order(&snapshots, &[(client, 10)]);
        }
    }
}

#[tokio::test]
async fn two_subscriptions_on_one_connection_each_get_every_frame() {
    // Two streams of one HTTP/2 connection, from one client address: two
    // subscribers all the same, neither in the place of the other.
    const FRAMES: u32 = 50;
    let pipeline = start(config()).await;
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{}", pipeline.feed_addr()))
            .expect("a valid address");
    let channel = watched(
        Look::Pipeline(&pipeline),
        "the gRPC client to connect",
        endpoint.connect(),
    )
    .await
    .expect("the feed accepts connections");
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut client = lesson::FeedClient::new(channel.clone());
        let request = lesson::Subscription {
            device: lesson::TOPIC.to_owned(),
        };
        let stream = watched(
            Look::Pipeline(&pipeline),
            "the answer to Subscribe",
            client.subscribe(request),
        )
        .await
        .expect("the feed publishes its topic")
        .into_inner();
        streams.push(stream);
    }
    let client = send_frames(&pipeline, 3, FRAMES, 32);
    for stream in &mut streams {
        let snapshots = receive(&pipeline, stream, FRAMES as usize).await;
        assert_complete_and_in_order(&snapshots, &[(3, FRAMES)]);
    }
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
}
