//! One connection's loop reads frames and flushes them in batches on a
//! timer: two jobs, one loop. A frame that arrives in pieces while the
//! timer fires arrives whole; frames that arrive together leave together,
//! at the next flush, without waiting for the connection to end; frames
//! that keep coming do not put the flush off. A slow receiver slows the
//! loop down and loses nothing, and the frames read before the input ends
//! or fails are sent on before the loop returns.

use std::time::Duration;

use bytes::Bytes;
use lesson::{FrameError, run_connection};
use lesson_support::within;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::encode;

/// Receives every batch until the loop drops its sender.
async fn collect(mut batches: mpsc::Receiver<Vec<Bytes>>) -> Vec<Vec<Bytes>> {
    let mut all = Vec::new();
    while let Some(batch) = batches.recv().await {
        all.push(batch);
    }
    all
}

fn texts(frames: &[Bytes]) -> Vec<String> {
    frames
        .iter()
        .map(|frame| String::from_utf8_lossy(frame).into_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn frames_cut_into_pieces_arrive_whole_while_the_timer_fires() {
    let payloads: Vec<String> = (0..30)
        .map(|n| format!("frame {n:02} {}", "abcdefghij".repeat(n % 5)))
        .collect();
    // Each frame in five pieces: its length in two, its payload in three,
    // 3 ms apart. The loop's timer fires every millisecond, so it wins the
    // race against every read that is waiting for the rest of a frame.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for payload in &payloads {
        let wire = encode(&[payload]);
        let third = (wire.len() - 4).div_ceil(3).max(1);
        pieces.push(wire[..2].to_vec());
        pieces.push(wire[2..4].to_vec());
        pieces.extend(wire[4..].chunks(third).map(<[u8]>::to_vec));
    }
    let (mut peer, connection) = tokio::io::duplex(1024);
    let (sender, batches) = mpsc::channel(64);
    let write = async move {
        for piece in pieces {
            if peer.write_all(&piece).await.is_err() {
                break; // the loop has ended, and dropped the connection
            }
            sleep(Duration::from_millis(3)).await;
        }
        // Dropping `peer` ends the input.
    };

    let (ended, (), batches) = within(
        "the loop, over a connection that sends 30 frames in pieces",
        async {
            tokio::join!(
                run_connection(connection, Duration::from_millis(1), sender),
                write,
                collect(batches)
            )
        },
    )
    .await;

    let frames: Vec<Bytes> = batches.iter().flatten().cloned().collect();
    let got = texts(&frames);
    let whole = got
        .iter()
        .zip(&payloads)
        .take_while(|(g, p)| g == p)
        .count();
    let then = match (got.get(whole), payloads.get(whole)) {
        (Some(wrong), Some(right)) => format!("then {wrong:?} instead of {right:?}"),
        (Some(extra), None) => format!("then {extra:?}, which was never sent"),
        (None, _) => "then nothing".to_owned(),
    };
    assert!(
        got == payloads,
        "the first {whole} of 30 frames arrived whole, {then}; the loop ended with \
         {ended:?}. A read dropped because the timer won the race took the bytes \
         it had read with it: is the read state in the future (read_exact) \
         instead of in a struct that outlives it?"
    );
    assert!(
        ended.is_ok(),
        "the input ended cleanly, and the loop says {ended:?}"
    );
    assert!(
        batches.len() > 1,
        "every frame came in one batch: does the timer flush?"
    );
}

#[tokio::test(start_paused = true)]
async fn frames_that_arrive_together_leave_together_at_the_next_flush() {
    const FLUSH_EVERY: Duration = Duration::from_millis(5);
    let (mut peer, connection) = tokio::io::duplex(4096);
    let (sender, mut batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    sleep(Duration::from_millis(2)).await; // the loop is up and waiting

    for round in 0..3 {
        let payloads: Vec<String> = (0..10)
            .map(|n| format!("round {round} frame {n}"))
            .collect();
        within("a write", peer.write_all(&encode(&payloads)))
            .await
            .unwrap();
        let written = Instant::now();

        // The connection stays open: the batch must come by the flush.
        let batch = within(
            "a batch, while the connection stays open (frames are flushed every 5 ms)",
            batches.recv(),
        )
        .await
        .expect("the loop is running");
        assert_eq!(
            texts(&batch),
            payloads,
            "ten frames that arrived in one write are sent on in one batch"
        );
        assert!(
            written.elapsed() <= FLUSH_EVERY,
            "the batch came {:?} after its frames; the flush is every {FLUSH_EVERY:?}",
            written.elapsed()
        );
        sleep(Duration::from_millis(7)).await;
    }

    drop(peer);
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
    assert!(
        within("the loop to drop its sender", batches.recv())
            .await
            .is_none(),
        "a batch after the end"
    );
}

#[tokio::test(start_paused = true)]
async fn frames_that_keep_coming_do_not_put_the_flush_off() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    const GAP: Duration = Duration::from_millis(5);
    const FRAMES: usize = 12;
    let (mut peer, connection) = tokio::io::duplex(1024);
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(64);
    // A frame every 5 ms, more often than the flush: each one is sent on by
    // the first flush after it came.
    let write = async move {
        let mut written = Vec::new();
        for n in 0..FRAMES {
            peer.write_all(&encode(&[format!("frame {n}")]))
                .await
                .unwrap();
            written.push(Instant::now());
            sleep(GAP).await;
        }
        written // dropping `peer` ends the input
    };
    let receive = async move {
        let mut arrived = Vec::new();
        while let Some(batch) = batches.recv().await {
            arrived.extend(texts(&batch).into_iter().map(|text| (text, Instant::now())));
        }
        arrived
    };

    let (ended, written, arrived) = within(
        "the loop, over a connection that sends a frame every 5 ms",
        async {
            tokio::join!(
                run_connection(connection, FLUSH_EVERY, sender),
                write,
                receive
            )
        },
    )
    .await;

    let expected: Vec<String> = (0..FRAMES).map(|n| format!("frame {n}")).collect();
    let got: Vec<&String> = arrived.iter().map(|(text, _)| text).collect();
    assert_eq!(
        got,
        expected.iter().collect::<Vec<_>>(),
        "the frames that arrived"
    );
    assert!(
        ended.is_ok(),
        "the input ended cleanly, and the loop says {ended:?}"
    );
    for (n, ((_, at), sent)) in arrived.iter().zip(&written).enumerate() {
        let waited = at.duration_since(*sent);
        assert!(
            waited <= FLUSH_EVERY,
            "frame {n} was sent on {waited:?} after it came, and the flush is every \
             {FLUSH_EVERY:?}: while frames keep coming (one every {GAP:?}) the flush is \
             put off. Is the timer made anew on every turn of the loop, so that every \
             frame starts it again?"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_receiver_slows_the_loop_down_and_loses_no_frame() {
    const FRAMES: usize = 40;
    let (mut peer, connection) = tokio::io::duplex(4096);
    // Room for one batch, and a receiver that takes 10 ms over each: the
    // loop, flushing every 2 ms, is often ahead of it.
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(1);
    let write = async move {
        for n in 0..FRAMES {
            peer.write_all(&encode(&[format!("frame {n}")]))
                .await
                .unwrap();
            sleep(Duration::from_millis(1)).await;
        }
    };
    let receive = async move {
        let mut frames = Vec::new();
        while let Some(batch) = batches.recv().await {
            frames.extend(texts(&batch));
            sleep(Duration::from_millis(10)).await;
        }
        frames
    };

    let (ended, (), got) = within(
        "the loop, with a receiver that takes 10 ms over each batch",
        async {
            tokio::join!(
                run_connection(connection, Duration::from_millis(2), sender),
                write,
                receive
            )
        },
    )
    .await;

    let expected: Vec<String> = (0..FRAMES).map(|n| format!("frame {n}")).collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|frame| !got.contains(frame))
        .collect();
    assert!(
        got == expected,
        "{} of {FRAMES} frames arrived with a receiver slower than the flush; missing: \
         {missing:?}. A batch the channel has no room for is dropped (try_send?) \
         instead of waited for, or the last one is not sent when the input ends",
        got.len()
    );
    assert!(
        ended.is_ok(),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_frames_read_before_the_input_ends_or_fails_are_sent_on() {
    // A flush far away: the frames can only leave with the end of the input.
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    let payloads = ["one", "two", "three"];
    for fails in [false, true] {
        let mut wire = encode(&payloads);
        let how = if fails {
            // A length beyond any frame limit: the input fails here.
            wire.extend_from_slice(&u32::MAX.to_be_bytes());
            "then a frame too long"
        } else {
            "then the end of the input"
        };
        let (mut peer, connection) = tokio::io::duplex(1024);
        let (sender, batches) = mpsc::channel(64);
        // The input comes once the loop waits for it: a timer's first tick,
        // which an `interval` gives at once, is then behind it, and no timer
        // is due until the input has ended (`select!` picks among branches
        // that are ready at random, so an earlier write would let a tick
        // flush the frames by chance).
        let write = async {
            tokio::task::yield_now().await;
            peer.write_all(&wire).await.unwrap();
            drop(peer);
        };

        let (ended, batches, ()) = within("the loop, over three frames", async {
            tokio::join!(
                run_connection(connection, FLUSH_EVERY, sender),
                collect(batches),
                write
            )
        })
        .await;

        let frames: Vec<Bytes> = batches.into_iter().flatten().collect();
        assert_eq!(
            texts(&frames),
            payloads,
            "three frames {how}: the frames read before that are sent on before the \
             loop returns, and it returned {ended:?}"
        );
        if fails {
            assert!(
                matches!(ended, Err(FrameError::TooLong { .. })),
                "three frames {how}, and the loop says {ended:?}"
            );
        } else {
            assert!(
                ended.is_ok(),
                "three frames {how}, and the loop says {ended:?}"
            );
        }
    }
}
