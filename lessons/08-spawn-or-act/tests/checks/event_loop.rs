//! One connection's loop reads frames and flushes them in batches on a
//! timer: two jobs, one loop. A frame that arrives in pieces while the
//! timer fires arrives whole; frames that arrive together leave together,
//! at the next flush, without waiting for the connection to end; frames
//! that keep coming do not put the flush off. A slow receiver slows the
//! loop down and loses nothing, and the frames read before the input ends
//! or fails are sent on before the loop returns. A connection silent for
//! a year has done neither: it is still read.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use lesson::{FrameError, run_connection};
use lesson_support::{PATIENCE, ScriptedReader, Then, within, within_for};
use tokio::io::{AsyncWriteExt, DuplexStream};
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

/// Runs the loop over `connection`, flushing every `flush_every`, while
/// `write` feeds it, within the checks' time limit. Returns how the loop
/// ended, what `write` returned, and every frame sent on with the instant
/// (paused time) its batch arrived.
async fn run_and_time<W: Future>(
    what: &str,
    connection: DuplexStream,
    flush_every: Duration,
    write: W,
) -> (Result<(), FrameError>, W::Output, Vec<(String, Instant)>) {
    within(what, run_timed(connection, flush_every, write)).await
}

/// [`run_and_time`] without its time limit, for runs of minutes.
async fn run_timed<W: Future>(
    connection: DuplexStream,
    flush_every: Duration,
    write: W,
) -> (Result<(), FrameError>, W::Output, Vec<(String, Instant)>) {
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(64);
    let receive = async move {
        let mut arrived = Vec::new();
        while let Some(batch) = batches.recv().await {
            arrived.extend(texts(&batch).into_iter().map(|text| (text, Instant::now())));
        }
        arrived
    };
    tokio::join!(
        run_connection(connection, flush_every, sender),
        write,
        receive
    )
}

/// Frames `gap` apart on a connection flushed every `flush_every` (paused
/// time), the input ending two periods after the last: every frame arrives,
/// in order, at most a period after it came, and batches leave at least a
/// period apart. `late` and `early` say what a frame sent on late, or two
/// batches too close, point to.
async fn assert_flush_kept(
    flush_every: Duration,
    gap: Duration,
    frames: usize,
    late: &str,
    early: &str,
) {
    let (mut peer, connection) = tokio::io::duplex(1024);
    let write = async move {
        let mut written = Vec::new();
        for n in 0..frames {
            peer.write_all(&encode(&[format!("frame {n}")]))
                .await
                .unwrap();
            written.push(Instant::now());
            sleep(gap).await;
        }
        // The input ends once every frame has been flushed by the timer.
        sleep(2 * flush_every).await;
        written // dropping `peer` ends the input
    };
    let what = format!("the loop, a frame every {gap:?}, a flush every {flush_every:?}");
    // A long period takes years of paused time.
    let whole = gap * frames as u32 + 3 * flush_every;
    let (ended, written, arrived) = within_for(
        &what,
        whole + PATIENCE,
        run_timed(connection, flush_every, write),
    )
    .await;

    let expected: Vec<String> = (0..frames).map(|n| format!("frame {n}")).collect();
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
            waited <= flush_every,
            "frame {n} was sent on {waited:?} after it came, and the flush is every \
             {flush_every:?}{late}"
        );
    }
    let mut batches_at: Vec<Instant> = arrived.iter().map(|(_, at)| *at).collect();
    batches_at.dedup();
    for pair in batches_at.windows(2) {
        let apart = pair[1].duration_since(pair[0]);
        assert!(
            apart >= flush_every,
            "two batches left {apart:?} apart, and the flush is every {flush_every:?}: \
             {early}"
        );
    }
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
    // Room for the largest write (1,100 frames of 8,000 bytes, 8.8 MB), so
    // that it is in the connection at once.
    let (mut peer, connection) = tokio::io::duplex(9 * 1024 * 1024);
    let (sender, mut batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    sleep(Duration::from_millis(2)).await; // the loop is up and waiting

    // Ten frames, then ten times more, up to a thousand times more, then
    // frames of 8,000 bytes that come to more than lesson 04's largest frame
    // (8 MiB): a batch holds what came, however much that is.
    let rounds: [(usize, usize); 5] = [(10, 0), (100, 0), (1_000, 0), (10_000, 0), (1_100, 8_000)];
    for (round, (frames, size)) in rounds.into_iter().enumerate() {
        let payloads: Vec<String> = (0..frames)
            .map(|n| {
                let name = format!("round {round} frame {n}");
                let padding = ".".repeat(size.saturating_sub(name.len()));
                name + &padding
            })
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
        // Compared without printing them: the last round is 8.8 MB of text.
        let first_wrong = batch
            .iter()
            .zip(&payloads)
            .position(|(got, sent)| got[..] != *sent.as_bytes())
            .unwrap_or(batch.len().min(payloads.len()));
        assert!(
            batch.len() == payloads.len() && first_wrong == batch.len(),
            "{frames} frames that arrived in one write are sent on in one batch \
             (a batch cut at a number of frames, or of bytes, of your own?): the \
             batch held {} frames, of {} bytes, and differs from what was sent \
             from frame {first_wrong} on",
            batch.len(),
            batch.iter().map(Bytes::len).sum::<usize>()
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
    let (ended, written, arrived) = run_and_time(
        "the loop, over a connection that sends a frame every 5 ms",
        connection,
        FLUSH_EVERY,
        write,
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
async fn a_frame_half_arrived_does_not_hold_up_the_frames_before_it() {
    // A short flush: every 2 ms, as configured, not every few ms of a
    // floor of your own.
    const FLUSH_EVERY: Duration = Duration::from_millis(2);
    const PAUSE: Duration = Duration::from_millis(50);
    let (mut peer, connection) = tokio::io::duplex(1024);
    // Frame "one" whole and frame "two" up to half its payload in one write,
    // the rest of "two" 50 ms later: "one" is sent on at the first flush,
    // while "two" is still arriving.
    let wire = encode(&["one", "two is a frame in two parts"]);
    let cut = wire.len() - 12;
    let write = async move {
        tokio::task::yield_now().await; // the loop waits for its input
        peer.write_all(&wire[..cut]).await.unwrap();
        let first = Instant::now();
        sleep(PAUSE).await;
        peer.write_all(&wire[cut..]).await.unwrap();
        [first, Instant::now()] // dropping `peer` ends the input
    };
    let (ended, written, arrived) = run_and_time(
        "the loop, over a frame whose second half comes 50 ms after the first",
        connection,
        FLUSH_EVERY,
        write,
    )
    .await;

    let got: Vec<&str> = arrived.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(
        got,
        ["one", "two is a frame in two parts"],
        "the frames that arrived"
    );
    assert!(
        ended.is_ok(),
        "the input ended cleanly, and the loop says {ended:?}"
    );
    for ((text, at), came) in arrived.iter().zip(written) {
        let waited = at.duration_since(came);
        assert!(
            waited <= FLUSH_EVERY,
            "frame {text:?} was sent on {waited:?} after it came, and the flush is every \
             {FLUSH_EVERY:?}: the flush waited for something else (for the rest of the \
             next frame, read outside `select!`? for a period longer than the one \
             configured?)"
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
        // The input ends once every frame has been flushed: whether the last
        // batch waits for room at the end would otherwise depend on which
        // branch `select!` picks at random (that path has a check of its
        // own, `the_last_batch_waits_for_room_in_a_full_channel`).
        sleep(Duration::from_millis(200)).await;
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
         instead of waited for",
        got.len()
    );
    assert!(
        ended.is_ok(),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// The frames of the checks of the loop's end.
const THREE_FRAMES: [&str; 3] = ["one", "two", "three"];

/// What comes after [`THREE_FRAMES`]: nothing (the input ends cleanly), a
/// length beyond any frame limit, a frame the input ends inside of, or
/// half of a frame's length.
#[derive(Clone, Copy)]
enum Tail {
    End,
    TooLong,
    Cut,
    CutInLength,
}

/// A connection that gives [`THREE_FRAMES`], then `tail`, then ends.
/// Returns the connection, for the loop, and the peer's write, to be joined
/// with the loop. The write comes
/// once the loop waits for its input: a timer's first tick, which an
/// `interval` gives at once, is then behind it, and no timer is due until
/// the input has ended (`select!` picks among branches that are ready at
/// random, so an earlier write would let a tick flush the frames by chance).
fn three_frames_then(tail: Tail) -> (DuplexStream, impl Future<Output = ()>) {
    let mut wire = encode(&THREE_FRAMES);
    match tail {
        Tail::End => {}
        Tail::TooLong => wire.extend_from_slice(&u32::MAX.to_be_bytes()),
        // A length of 10, and 3 of its bytes: the peer hangs up mid-frame.
        Tail::Cut => wire.extend_from_slice(&[0, 0, 0, 10, b'f', b'o', b'u']),
        // Two of a length's four bytes: not a clean end between frames either.
        Tail::CutInLength => wire.extend_from_slice(&[0, 0]),
    }
    let (mut peer, connection) = tokio::io::duplex(1024);
    let write = async move {
        tokio::task::yield_now().await;
        peer.write_all(&wire).await.unwrap();
        // Dropping `peer` ends the input.
    };
    (connection, write)
}

#[tokio::test(start_paused = true)]
async fn the_frames_read_before_the_input_ends_or_fails_are_sent_on() {
    // A flush far away: the frames can only leave with the end of the input.
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    let payloads = THREE_FRAMES;
    for tail in [Tail::End, Tail::TooLong, Tail::Cut, Tail::CutInLength] {
        let how = match tail {
            Tail::End => "then the end of the input",
            Tail::TooLong => "then a frame too long",
            Tail::Cut => "then the input ends inside a frame",
            Tail::CutInLength => "then the input ends inside a frame's length",
        };
        let (connection, write) = three_frames_then(tail);
        let (sender, batches) = mpsc::channel(64);

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
        match tail {
            Tail::End => assert!(
                ended.is_ok(),
                "three frames {how}, and the loop says {ended:?}"
            ),
            Tail::TooLong => assert!(
                matches!(ended, Err(FrameError::TooLong { .. })),
                "three frames {how}, and the loop says {ended:?}"
            ),
            // Lesson 04's reader says `Truncated`; a reader of your own may
            // say the read ended early. Either way it is not a clean end.
            Tail::Cut | Tail::CutInLength => assert!(
                matches!(&ended, Err(FrameError::Truncated { .. }))
                    || matches!(&ended, Err(FrameError::Io(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof),
                "three frames {how}, and the loop says {ended:?}: a peer that hangs up \
                 inside a frame, its length too, has failed, and the loop says so \
                 (fewer than four bytes at the end taken for a clean end?)"
            ),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_frames_read_before_a_read_error_are_sent_on() {
    // A flush far away: the frames can only leave with the error.
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    let payloads = THREE_FRAMES;
    // The connection is not ready at first (so the interval's first tick,
    // which comes at once, finds nothing to flush), then gives the three
    // frames, then fails: a reset, not a bad frame.
    let (reader, _) = ScriptedReader::new([encode(&payloads)], Then::Fail);
    let reader = reader.pausing_at([0]);
    let (sender, batches) = mpsc::channel(64);

    let (ended, batches) = within("the loop, over three frames and a read error", async {
        tokio::join!(
            run_connection(reader, FLUSH_EVERY, sender),
            collect(batches)
        )
    })
    .await;

    let frames: Vec<Bytes> = batches.into_iter().flatten().collect();
    assert_eq!(
        texts(&frames),
        payloads,
        "three frames, then the connection fails: the frames read before are sent \
         on before the loop returns, and it returned {ended:?}"
    );
    assert!(
        matches!(&ended, Err(FrameError::Io(error)) if error.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection failed, and the loop says {ended:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_batch_waits_for_room_in_a_full_channel() {
    // A flush far away: the frames can only leave with the end of the input.
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    // The receiver comes back after twenty flushes: a last send that gives
    // up after a while (a `send_timeout`) gives up before that.
    const AWAY: Duration = Duration::from_secs(20);
    let payloads = THREE_FRAMES;
    for fails in [false, true] {
        let tail = if fails { Tail::TooLong } else { Tail::End };
        let (connection, write) = three_frames_then(tail);
        // Room for one batch, taken by a batch of the check's own: when the
        // input ends, the channel is full, and the receiver comes 20 s later.
        let (sender, mut batches) = mpsc::channel(1);
        sender
            .send(vec![Bytes::from_static(b"before")])
            .await
            .unwrap();
        let receive = async {
            sleep(AWAY).await;
            let mut all = Vec::new();
            while let Some(batch) = batches.recv().await {
                all.push(texts(&batch));
            }
            all
        };

        let started = Instant::now();
        let running = async {
            let ended = run_connection(connection, FLUSH_EVERY, sender).await;
            (ended, started.elapsed())
        };
        let ((ended, returned_after), got, ()) =
            within("the loop, with a full channel at the end", async {
                tokio::join!(running, receive, write)
            })
            .await;

        assert_eq!(
            got,
            [
                vec!["before".to_owned()],
                payloads.map(str::to_owned).to_vec()
            ],
            "three frames, then the {}, while the channel is full: the last batch \
             waits for room, for as long as the receiver is away ({AWAY:?}; a try_send, or a \
             send_timeout, loses it), and the loop returned {ended:?}",
            if fails { "input fails" } else { "input ends" }
        );
        assert_eq!(ended.is_ok(), !fails, "the loop says {ended:?}");
        assert!(
            returned_after >= AWAY,
            "the loop returned {returned_after:?} after it started, and the receiver, \
             away for {AWAY:?}, had not made room for the last batch yet: the loop \
             returns after its frames are sent, not before (the last batch handed to a \
             task of its own?)"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_receiver_that_is_gone_ends_the_loop() {
    const FLUSH_EVERY: Duration = Duration::from_millis(2);
    let (mut peer, connection) = tokio::io::duplex(4096);
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(64);
    // A frame every millisecond, for two seconds, unless the loop ends first
    // and drops the connection.
    let write = tokio::spawn(async move {
        for n in 0..2_000 {
            if peer
                .write_all(&encode(&[format!("frame {n}")]))
                .await
                .is_err()
            {
                return n;
            }
            sleep(Duration::from_millis(1)).await;
        }
        2_000
    });
    // The receiver takes one batch, then is dropped.
    let receive = async move {
        let first = batches.recv().await;
        drop(batches);
        (first.is_some(), Instant::now())
    };

    let (ended, (got_one, gone_at)) = within("the loop, whose receiver goes", async {
        tokio::join!(run_connection(connection, FLUSH_EVERY, sender), receive)
    })
    .await;
    let took = gone_at.elapsed();

    assert!(got_one, "a first batch");
    assert!(
        ended.is_ok(),
        "nobody receives batches: the loop returns Ok, and it says {ended:?}"
    );
    assert!(
        took <= 5 * FLUSH_EVERY,
        "the receiver was gone, and the loop read the connection for {took:?} more \
         (frames kept coming, one every millisecond, for a flush every \
         {FLUSH_EVERY:?}): a failed send is ignored?"
    );
    let written = within("the writer", write).await.unwrap();
    assert!(written < 2_000, "the connection was read to its end");
}

/// A connection whose peer hands it whole frames through a channel with
/// room for one: a peer that is ahead of the reading waits in `send`. It
/// gives what it has at once, and waits only between frames, so a read that
/// is dropped while it waits loses nothing.
struct FramesFromPeer {
    frames: mpsc::Receiver<Vec<u8>>,
    left: Vec<u8>,
}

impl tokio::io::AsyncRead for FramesFromPeer {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left.is_empty() {
            match self.frames.poll_recv(cx) {
                std::task::Poll::Ready(Some(frame)) => self.left = frame,
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(Ok(())),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
        let n = self.left.len().min(out.remaining());
        out.put_slice(&self.left[..n]);
        self.left.drain(..n);
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_stalled_receiver_stops_the_reading() {
    const FRAMES: usize = 400;
    let (peer, frames) = mpsc::channel(1);
    let connection = FramesFromPeer {
        frames,
        left: Vec::new(),
    };
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(1);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let write = {
        let written = std::sync::Arc::clone(&written);
        async move {
            for n in 0..FRAMES {
                peer.send(encode(&[format!("frame {n:03}")])).await.unwrap();
                written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                sleep(Duration::from_millis(1)).await;
            }
            // The input ends once every frame has been flushed (see the slow
            // receiver's check).
            sleep(Duration::from_millis(200)).await;
        }
    };
    // The receiver takes nothing for the first second, then everything.
    let receive = {
        let written = std::sync::Arc::clone(&written);
        async move {
            sleep(Duration::from_secs(1)).await;
            let during_the_stall = written.load(std::sync::atomic::Ordering::SeqCst);
            let mut frames = Vec::new();
            while let Some(batch) = batches.recv().await {
                frames.extend(texts(&batch));
            }
            (during_the_stall, frames)
        }
    };

    let (ended, (), (during_the_stall, frames)) = within(
        "the loop, with a receiver that takes nothing for a second",
        async {
            tokio::join!(
                run_connection(connection, Duration::from_millis(2), sender),
                write,
                receive
            )
        },
    )
    .await;

    assert!(
        during_the_stall <= 32,
        "the peer wrote {during_the_stall} of {FRAMES} frames while the receiver took \
         nothing for a second, into a channel with room for one batch: the loop \
         went on reading (a send handed to a task of its own? an unbounded \
         queue?) instead of waiting for the receiver"
    );
    let expected: Vec<String> = (0..FRAMES).map(|n| format!("frame {n:03}")).collect();
    assert!(frames == expected, "every frame, in order, after the stall");
    assert!(ended.is_ok(), "the loop says {ended:?}");
}

/// Input that is ready on every read, for longer than many flushes: the
/// flush still comes on time. This check runs in real time, because under
/// a paused clock no time passes while the loop has work, and the point is
/// time passing while the input is ready. The whole input waits in the
/// connection before the loop starts, one frame per 8 KiB read; tokio's
/// cooperative budget makes the loop yield every 128 reads, and that is
/// when the timer can fire. It looks only at when the first batch comes:
/// whether every frame arrives, and how the loop ends, are the other
/// checks' business (a loop that loses bytes to a dropped `read_exact`
/// loses them here only when the timer happens to win mid-frame).
#[tokio::test]
async fn input_that_is_always_ready_does_not_put_the_flush_off() {
    const FRAMES: usize = 2_560;
    const FLUSH_EVERY: Duration = Duration::from_millis(1);
    let payloads: Vec<Vec<u8>> = (0..FRAMES).map(|_| vec![b'.'; 8 * 1024 - 4]).collect();
    let input = encode(&payloads);
    let (mut peer, connection) = tokio::io::duplex(input.len());
    within("the input to be written", peer.write_all(&input))
        .await
        .unwrap();
    drop(peer); // everything is ready; the end comes after the last frame
    let (sender, mut batches) = mpsc::channel(FRAMES);
    let started = std::time::Instant::now();
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    let first = within("the first batch", batches.recv())
        .await
        .expect("a batch before the loop ends");
    let took = started.elapsed();
    running.abort();
    assert!(
        first.len() < FRAMES,
        "the first batch held all {FRAMES} frames, which were all ready: it came after \
         {took:?}, and the flush is every {FLUSH_EVERY:?}. While a read is ready, is the \
         timer never polled (`biased;` with the read first)?"
    );
}

#[tokio::test(start_paused = true)]
async fn a_frame_as_long_as_lesson_04_allows_arrives_whole() {
    // Lesson 04's limit, DEFAULT_MAX_FRAME_LENGTH: a frame of exactly that
    // length is allowed. A short frame comes before it and one after it, in
    // the same write: the large frame takes no short cut past them.
    const LENGTH: usize = 8 * 1024 * 1024;
    let (mut peer, connection) = tokio::io::duplex(64 * 1024);
    let (sender, batches) = mpsc::channel(4);
    let running = tokio::spawn(run_connection(connection, Duration::from_millis(5), sender));
    let received = tokio::spawn(collect(batches));
    let payload: Vec<u8> = (0..LENGTH).map(|n| (n % 251) as u8).collect();
    let writer = tokio::spawn({
        let wire = encode(&[&b"before"[..], &payload, &b"after"[..]]);
        async move {
            // The loop's first flush, at once, is over before the frames come.
            sleep(Duration::from_millis(1)).await;
            peer.write_all(&wire).await.unwrap();
            // The connection ends once the frames are written.
        }
    });

    within("the writer", writer).await.unwrap();
    let ended = within("the loop to end with the input", running).await;
    let frames: Vec<Bytes> = within("the batches", received)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert!(
        frames.len() == 3
            && frames[0][..] == b"before"[..]
            && frames[1][..] == payload[..]
            && frames[2][..] == b"after"[..],
        "a short frame, a frame of {LENGTH} bytes (lesson 04's limit), and a short \
         frame arrive whole and in this order (is the limit a smaller one of your own? \
         does a large frame leave ahead of the frames in the batch?): the frames sent \
         on were, in order, of {:?} bytes",
        frames.iter().map(Bytes::len).collect::<Vec<_>>()
    );
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended after a frame of the largest length allowed, and the \
         loop says {ended:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_silent_for_a_year_is_still_read() {
    // The loop returns when its input ends or fails, or when nobody
    // receives batches: a peer that says nothing for a year (paused time)
    // has done neither, and what it sends afterwards is read. The flush is
    // a day, so that the timer fires 365 times, not 31 million.
    const FLUSH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
    const SILENCE: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let (mut peer, connection) = tokio::io::duplex(1024);
    let (sender, mut batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));

    within("a frame's write", peer.write_all(&encode(&["before"])))
        .await
        .unwrap();
    let first = within_for(
        "the batch of the frame before the silence",
        FLUSH_EVERY + PATIENCE,
        batches.recv(),
    )
    .await
    .expect("a batch before the loop ends");
    assert_eq!(texts(&first), ["before"]);

    // A year of silence: the loop's flush timer fires all along.
    within_for("the silence", SILENCE + PATIENCE, sleep(SILENCE)).await;
    assert!(
        !running.is_finished(),
        "the peer said nothing for {SILENCE:?}, and the loop had returned \
         {:?}: a silent connection is not a closed one (an idle timeout of \
         your own?)",
        within("the loop", running).await
    );
    let wrote = within(
        "a frame's write after the silence",
        peer.write_all(&encode(&["after"])),
    )
    .await;
    drop(peer); // the input ends after the second frame
    let second = within_for(
        "the batch of the frame after the silence",
        FLUSH_EVERY + PATIENCE,
        batches.recv(),
    )
    .await;
    let ended = within("the loop to end with the input", running).await;
    assert!(
        wrote.is_ok() && second.as_deref().map(texts) == Some(vec!["after".to_owned()]),
        "after {SILENCE:?} of silence the peer wrote a frame ({wrote:?}), and the \
         loop sent on {second:?}, and returned {ended:?}"
    );
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended after the second frame, and the loop says {ended:?}"
    );
}

/// A flush period long next to the gaps between frames: frames 700 ms apart,
/// a flush every second. Each frame leaves at most a second after it came,
/// and the batches leave no more often than once a second: the period is
/// the configured one, kept whether frames come or not.
#[tokio::test(start_paused = true)]
async fn a_flush_of_a_second_is_kept_while_frames_come_700_ms_apart() {
    assert_flush_kept(
        Duration::from_secs(1),
        Duration::from_millis(700),
        10,
        ": with a frame every 700 ms, is the flush a timeout that every frame starts \
         again, or looked at only when a frame comes?",
        "is the period one of your own (a cap on the configured one?)",
    )
    .await;
}

/// Seven times the largest number of frames of the other checks, in one
/// write, more than a cut at any power of two up to 65,536 lets through:
/// 70,000 frames leave in one batch at the next flush. A batch has no size
/// of its own.
#[tokio::test(start_paused = true)]
async fn a_batch_holds_every_frame_that_came_however_many() {
    const FRAMES: u32 = 70_000;
    const FLUSH_EVERY: Duration = Duration::from_millis(5);
    // Each payload is its frame's number: 8 bytes a frame on the wire.
    let payloads: Vec<[u8; 4]> = (0..FRAMES).map(u32::to_be_bytes).collect();
    let wire = encode(&payloads);
    let (mut peer, connection) = tokio::io::duplex(wire.len());
    let (sender, mut batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    sleep(Duration::from_millis(2)).await; // the loop is up and waiting

    within("a write", peer.write_all(&wire)).await.unwrap();
    let batch = within(
        "a batch, while the connection stays open (frames are flushed every 5 ms)",
        batches.recv(),
    )
    .await
    .expect("the loop is running");
    let first_wrong = batch
        .iter()
        .zip(&payloads)
        .position(|(got, sent)| got[..] != sent[..])
        .unwrap_or(batch.len().min(payloads.len()));
    assert!(
        batch.len() == payloads.len() && first_wrong == batch.len(),
        "{FRAMES} frames that arrived in one write are sent on in one batch (a batch \
         cut at a number of frames of your own, however large?): the batch held {} \
         frames, and differs from what was sent from frame {first_wrong} on",
        batch.len()
    );

    drop(peer);
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// A frame one byte longer than lesson 04's limit (8 MiB) is too long: the
/// limit is the payload's, exactly lesson 04's, and not a larger one of your
/// own. Its length alone says so; the frame before it is sent on.
#[tokio::test(start_paused = true)]
async fn a_length_one_past_lesson_04s_limit_is_too_long() {
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    const LENGTH: u32 = 8 * 1024 * 1024 + 1;
    let mut wire = encode(&["one"]);
    wire.extend_from_slice(&LENGTH.to_be_bytes());
    let (mut peer, connection) = tokio::io::duplex(1024);
    let write = async move {
        tokio::task::yield_now().await; // the loop waits for its input
        peer.write_all(&wire).await.unwrap();
        // Dropping `peer` ends the input: the frame's payload never comes.
    };
    let (sender, batches) = mpsc::channel(64);

    let (ended, batches, ()) = within("the loop, over a frame and a length too long", async {
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
        ["one"],
        "a frame, then the length of one too long: the frame before is sent on"
    );
    assert!(
        matches!(ended, Err(FrameError::TooLong { .. })),
        "a frame announced {LENGTH} bytes, one more than lesson 04's limit of 8 MiB, \
         and the loop says {ended:?}: is the limit a larger one of your own (one that \
         counts the 4 bytes of the length too?)"
    );
}

/// A receiver away for a year (paused time), with the channel full: the
/// loop waits for it, and loses nothing. A receiver that is slow is not
/// gone: the loop returns early only when nobody receives, however long
/// the wait (no time limit of the loop's own on a send).
#[tokio::test(start_paused = true)]
async fn a_receiver_away_for_a_year_loses_no_frame() {
    // A flush a day: a loop whose timer goes on firing while it waits fires
    // 365 times, not 31 million.
    const FLUSH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
    const AWAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let (mut peer, connection) = tokio::io::duplex(1024);
    // Room for one batch, taken by a batch of the check's own.
    let (sender, mut batches) = mpsc::channel(1);
    sender
        .send(vec![Bytes::from_static(b"before")])
        .await
        .unwrap();
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    within("a write", peer.write_all(&encode(&THREE_FRAMES)))
        .await
        .unwrap();

    within_for("the receiver's absence", AWAY + PATIENCE, sleep(AWAY)).await;
    assert!(
        !running.is_finished(),
        "the receiver was away for {AWAY:?} with the channel full, and the loop had \
         returned {:?}: a receiver that takes nothing for a while has not gone (a \
         send that gives up after a time of your own?)",
        within("the loop", running).await
    );

    let mut got = Vec::new();
    while got.len() < 1 + THREE_FRAMES.len() {
        // The frames left after the batch that waited go at the next flush.
        let next = batches.recv();
        match within_for(
            "a batch after the receiver's absence",
            FLUSH_EVERY + PATIENCE,
            next,
        )
        .await
        {
            Some(batch) => got.extend(texts(&batch)),
            None => break,
        }
    }
    assert_eq!(
        got,
        ["before", "one", "two", "three"],
        "every frame, in order, once the receiver is back"
    );
    drop(peer);
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// A flush period of a minute, frames 25 s apart (paused time): each frame
/// leaves at most a minute after it came, and the batches leave no more
/// often than once a minute. A long period is the configured one too, not
/// cut to a bound of the loop's own (5 s, 10 s, 30 s).
#[tokio::test(start_paused = true)]
async fn a_flush_of_a_minute_is_kept_while_frames_come_25_s_apart() {
    assert_flush_kept(
        Duration::from_secs(60),
        Duration::from_secs(25),
        6,
        "",
        "is a long period cut to a bound of your own (a cap of a few seconds, so that \
         no frame waits long?)",
    )
    .await;
}

/// A flush period of a year, frames 146 days apart (paused time, in which
/// a year costs nothing): each frame leaves at most a year after it came,
/// and the batches leave no more often than once a year. The period is the
/// caller's, however long: not cut to a bound of the loop's own (a minute,
/// an hour, a day, so that no frame waits longer).
#[tokio::test(start_paused = true)]
async fn a_flush_of_a_year_is_kept_while_frames_come_146_days_apart() {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    assert_flush_kept(
        365 * DAY,
        146 * DAY,
        6,
        "",
        "is a long period cut to a bound of your own (a cap of a minute, an hour or a \
         day, so that no frame waits long?)",
    )
    .await;
}

/// A flush that has just sent a batch is a whole period away, even while
/// frames are waiting to be read at that moment: 16 frames already in the
/// connection when the loop starts (paused time, the connection left
/// open) leave in batches a flush period apart, not one batch at the first
/// flush and another at once. Sixty-four connections, because `select!`
/// picks among ready branches at random: a timer made anew after each send
/// (`interval`'s first tick is at once) lets the next batch leave at once
/// on about one connection in four.
#[tokio::test(start_paused = true)]
async fn a_flush_just_made_waits_a_whole_period_while_frames_are_ready() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    const FRAMES: usize = 16;
    const CONNECTIONS: usize = 64;
    let payloads: Vec<String> = (0..FRAMES).map(|n| format!("frame {n}")).collect();
    let wire = encode(&payloads);
    for connection_number in 0..CONNECTIONS {
        let (mut peer, connection) = tokio::io::duplex(wire.len());
        // Every frame is waiting before the loop starts.
        within("a write", peer.write_all(&wire)).await.unwrap();
        let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(64);
        let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
        let mut arrived: Vec<String> = Vec::new();
        let mut batches_at: Vec<Instant> = Vec::new();
        while arrived.len() < FRAMES {
            let batch = within("a batch, while the connection stays open", batches.recv())
                .await
                .expect("the loop is running");
            batches_at.push(Instant::now());
            arrived.extend(texts(&batch));
        }
        assert_eq!(arrived, payloads, "the frames that arrived");
        for pair in batches_at.windows(2) {
            let apart = pair[1].duration_since(pair[0]);
            assert!(
                apart >= FLUSH_EVERY,
                "on connection {connection_number}, two batches left {apart:?} apart while \
                 frames were waiting to be read, and the flush is every {FLUSH_EVERY:?}: \
                 does a flush fire at once after a send (an `interval` made anew after \
                 each batch, whose first tick is at once?)"
            );
        }
        drop(peer);
        let ended = within("the loop to end with the input", running).await;
        assert!(
            matches!(ended, Ok(Ok(()))),
            "the input ended cleanly, and the loop says {ended:?}"
        );
    }
}

/// A frame that comes in the very instant a flush is made waits for the
/// next flush: a flush just made is a period away, whatever is read in
/// that instant. The peer writes a frame once every flush period (paused
/// time), so that a frame and a flush fall due together, a hundred times;
/// the batches leave at least a period apart. A timer made anew after each
/// send (an `interval`, whose first tick is at once) sends the frame read
/// in that instant in a second batch, at once, about one time in four:
/// `select!` picks among ready branches at random.
#[tokio::test(start_paused = true)]
async fn a_frame_that_comes_as_a_flush_is_made_waits_for_the_next_one() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    // A receiver that is never away: it takes every batch as it comes.
    let (first, later) = a_receiver_away(
        "the loop, with a frame every flush period",
        FLUSH_EVERY,
        Duration::ZERO,
        100,
        FLUSH_EVERY,
    )
    .await;
    let mut arrived_at = vec![first];
    arrived_at.extend(later);
    for pair in arrived_at.windows(2) {
        let apart = pair[1].duration_since(pair[0]);
        assert!(
            apart >= FLUSH_EVERY,
            "two batches left {apart:?} apart, {:?} after the first, while a frame came \
             every flush period ({FLUSH_EVERY:?}), in the instant a flush was due: a \
             frame read in the instant of a flush went in a second batch at once (an \
             `interval` made anew after each send, whose first tick is at once?)",
            pair[1].duration_since(first)
        );
    }
}

/// A receiver away for half a second while frames keep coming: the loop
/// waits for it (the reading stops), and the frames that waited meanwhile
/// are not sent on in one small batch per flush that was missed. Once the
/// receiver is back, a flush period sees at most three batches arrive: the
/// one in the channel, the one that waited for room, and the next flush's.
/// An `Interval` left with its default `MissedTickBehavior::Burst` fires
/// every missed tick at once when the loop comes back to it.
#[tokio::test(start_paused = true)]
async fn frames_that_waited_for_a_receiver_away_do_not_leave_one_per_missed_flush() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    const AWAY: Duration = Duration::from_millis(500);
    let (back, arrived_at) = a_receiver_away(
        "the loop, with a receiver away for half a second",
        FLUSH_EVERY,
        AWAY,
        200,
        Duration::from_millis(5),
    )
    .await;
    let at_once = arrived_at
        .iter()
        .filter(|at| at.duration_since(back) < FLUSH_EVERY)
        .count();
    assert!(
        at_once <= 3,
        "{at_once} batches arrived within one flush period ({FLUSH_EVERY:?}) of the \
         receiver's return, after it was away for {AWAY:?}: the frames that waited \
         left in a batch for each flush missed while the loop waited (an `Interval` \
         with its default `MissedTickBehavior::Burst`?), and a batch is every \
         {FLUSH_EVERY:?}"
    );
}

/// The loop over a connection whose peer writes `frames` frames, one every
/// `gap`, and ends the input once they have all been flushed, to a channel
/// with room for one batch, whose receiver takes the first batch, is away
/// for `away` (maybe zero), and then takes every batch as it comes. Every
/// frame arrives, in order, and the loop ends cleanly; what it gives back
/// is the instant the receiver came back (with no time away, the instant
/// the first batch arrived), and the instant each later batch arrived.
async fn a_receiver_away(
    what: &str,
    flush_every: Duration,
    away: Duration,
    frames: usize,
    gap: Duration,
) -> (Instant, Vec<Instant>) {
    let (mut peer, connection) = tokio::io::duplex(64 * 1024);
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(1);
    let write = async move {
        for n in 0..frames {
            peer.write_all(&encode(&[format!("frame {n:03}")]))
                .await
                .unwrap();
            sleep(gap).await;
        }
        // The input ends once every frame has been flushed.
        sleep(10 * flush_every).await;
    };
    let receive = async move {
        let mut got = Vec::new();
        if let Some(batch) = batches.recv().await {
            got.extend(texts(&batch));
        }
        sleep(away).await;
        let back = Instant::now();
        let mut arrived_at = Vec::new();
        while let Some(batch) = batches.recv().await {
            got.extend(texts(&batch));
            arrived_at.push(Instant::now());
        }
        (got, back, arrived_at)
    };

    let (ended, (), (got, back, arrived_at)) = within(what, async {
        tokio::join!(
            run_connection(connection, flush_every, sender),
            write,
            receive
        )
    })
    .await;

    let expected: Vec<String> = (0..frames).map(|n| format!("frame {n:03}")).collect();
    assert!(
        got == expected,
        "every frame, in order, after the receiver is back"
    );
    assert!(ended.is_ok(), "the loop says {ended:?}");
    (back, arrived_at)
}

/// The input ends while the channel is full, and the receiver is away for an
/// hour: the last batch waits for it all along, however many flushes that
/// is, and the loop returns only once it is sent.
#[tokio::test(start_paused = true)]
async fn the_last_batch_waits_an_hour_for_a_receiver_away() {
    // 36,000 flushes in the hour: a last send given up on after a number of
    // flushes, or a time, of your own gives up before the receiver is back.
    const FLUSH_EVERY: Duration = Duration::from_millis(100);
    const AWAY: Duration = Duration::from_secs(3_600);
    let (mut peer, connection) = tokio::io::duplex(1024);
    // Room for one batch, taken by a batch of the check's own.
    let (sender, mut batches) = mpsc::channel(1);
    sender
        .send(vec![Bytes::from_static(b"before")])
        .await
        .unwrap();
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    // Half a period: the loop's first tick, at once, has found nothing to
    // send, and the frames and the end come before the next one. (Frames
    // read before that first tick would be sent from inside the loop, not
    // as the last batch, and a last batch given up on would go unseen.)
    sleep(FLUSH_EVERY / 2).await;
    within("a write", peer.write_all(&encode(&THREE_FRAMES)))
        .await
        .unwrap();
    // The input ends: what is left to do is the last batch.
    drop(peer);

    within_for("the receiver's absence", AWAY + PATIENCE, sleep(AWAY)).await;
    assert!(
        !running.is_finished(),
        "the input had ended, the receiver was away for {AWAY:?} with the channel \
         full, and the loop had returned {:?}: the last batch waits for room for as \
         long as the receiver is away (a last send that gives up after some flushes, \
         or some time, of your own?)",
        within("the loop", running).await
    );

    let mut got = Vec::new();
    while let Some(batch) = within("a batch after the receiver's absence", batches.recv()).await {
        got.extend(texts(&batch));
    }
    assert_eq!(
        got,
        ["before", "one", "two", "three"],
        "every frame, in order, once the receiver is back, and then the end"
    );
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// Nobody receives batches any more, and the input ends with frames read
/// since the last flush: the last batch has nobody to go to, and that is
/// the receiver's choice, not a failure of the connection: the loop returns
/// `Ok`, as it does when a flush finds the receiver gone.
#[tokio::test(start_paused = true)]
async fn a_receiver_gone_when_the_input_ends_is_not_an_error() {
    const FLUSH_EVERY: Duration = Duration::from_secs(60);
    let (mut peer, connection) = tokio::io::duplex(4096);
    let (sender, batches) = mpsc::channel::<Vec<Bytes>>(4);
    drop(batches);
    // The frames come after the first flush (at once, with nothing to send)
    // and the input ends long before the next one.
    let write = async move {
        sleep(Duration::from_millis(5)).await;
        // A loop that watches its receiver (`batches.closed()`) may have
        // returned, and dropped the connection, before this write: the
        // write may fail, and that is no fault of the loop.
        let _ = peer.write_all(&encode(&["one", "two", "three"])).await;
        drop(peer);
    };
    let (ended, ()) = within(
        "the loop, whose receiver is gone, over an input that ends",
        async { tokio::join!(run_connection(connection, FLUSH_EVERY, sender), write) },
    )
    .await;
    assert!(
        ended.is_ok(),
        "the input ended cleanly and nobody receives batches: the loop returns Ok, \
         and it says {ended:?} (the last send's failure taken for an error of the \
         connection?)"
    );
}

/// A receiver away for a little over ten flushes of 100 ms while a frame
/// comes every millisecond (paused time), a channel with room for one
/// batch. The reading stops at the flush that finds no room: the loop holds
/// one batch at a time, so the peer gets in the first two periods' frames
/// and no more (a send handed to a task, with the reading going on into the
/// next batch until the next flush, lets in a third). And once the receiver
/// is back, the batches leave a whole period apart again: the late flush
/// goes when the receiver makes room, and the next a period after it, not
/// at the next multiple of the period from the start
/// (`MissedTickBehavior::Skip`), nor at once (`Burst`).
#[tokio::test(start_paused = true)]
async fn after_a_receiver_away_the_reading_stopped_and_the_flush_keeps_its_period() {
    const FLUSH_EVERY: Duration = Duration::from_millis(100);
    const GAP: Duration = Duration::from_millis(1);
    const AWAY: Duration = Duration::from_millis(1_050);
    const FRAMES: usize = 600;
    let (peer, frames) = mpsc::channel(1);
    let connection = FramesFromPeer {
        frames,
        left: Vec::new(),
    };
    let (sender, mut batches) = mpsc::channel::<Vec<Bytes>>(1);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let write = {
        let written = std::sync::Arc::clone(&written);
        async move {
            for n in 0..FRAMES {
                peer.send(encode(&[format!("frame {n:03}")])).await.unwrap();
                written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                sleep(GAP).await;
            }
            // The input ends once every frame has been flushed by the timer.
            sleep(2 * FLUSH_EVERY).await;
        }
    };
    let receive = {
        let written = std::sync::Arc::clone(&written);
        async move {
            sleep(AWAY).await;
            let during_the_stall = written.load(std::sync::atomic::Ordering::SeqCst);
            let mut frames = Vec::new();
            let mut arrived_at = Vec::new();
            while let Some(batch) = batches.recv().await {
                frames.extend(texts(&batch));
                arrived_at.push(Instant::now());
            }
            (during_the_stall, frames, arrived_at)
        }
    };

    let (ended, (), (during_the_stall, frames, mut arrived_at)) = within(
        "the loop, with a receiver away for 1.05 s and a flush every 100 ms",
        async {
            tokio::join!(
                run_connection(connection, FLUSH_EVERY, sender),
                write,
                receive
            )
        },
    )
    .await;

    let expected: Vec<String> = (0..FRAMES).map(|n| format!("frame {n:03}")).collect();
    assert!(frames == expected, "every frame, in order, after the stall");
    assert!(ended.is_ok(), "the loop says {ended:?}");
    // Two periods of frames: the batch in the channel and the one waiting
    // for room; and the few that are in the pipe.
    let allowed = (2 * FLUSH_EVERY.as_millis() / GAP.as_millis()) as usize + 4;
    assert!(
        during_the_stall <= allowed,
        "the peer wrote {during_the_stall} frames, one every {GAP:?}, while the receiver \
         was away and the channel had room for one batch of a {FLUSH_EVERY:?} flush; \
         at most {allowed} get in (two flushes' worth) when the reading stops at the \
         flush that finds no room: the loop read on while a send waited (the send \
         handed to a task, the next batch filling up meanwhile?)"
    );
    arrived_at.dedup();
    for pair in arrived_at.windows(2) {
        let apart = pair[1].duration_since(pair[0]);
        assert!(
            apart >= FLUSH_EVERY,
            "after the receiver was back, two batches arrived {apart:?} apart, and the \
             flush is every {FLUSH_EVERY:?}: after a late flush, the next is a whole period \
             later (`MissedTickBehavior::Delay`), not at the next multiple of the period \
             from the start (`Skip`), nor at once (`Burst`)"
        );
    }
}

/// A receiver away for a time that is not a whole number of flush periods,
/// while frames keep coming (paused time): once it is back, the batches
/// that waited arrive, a late flush may send what was read meanwhile, and
/// after that the next batch leaves a whole period later, not at the next
/// multiple of the period counted from the loop's start.
/// `MissedTickBehavior::Skip` keeps that old rhythm: its late tick fires at
/// once and the next one a fraction of a period after it.
#[tokio::test(start_paused = true)]
async fn the_flush_after_a_receiver_away_is_a_whole_period_before_the_next() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    // Half a period more than 50 periods: the receiver comes back between
    // two ticks of the loop's first rhythm.
    const AWAY: Duration = Duration::from_millis(505);
    let (back, later) = a_receiver_away(
        "the loop, with a receiver away for 50 and a half flushes",
        FLUSH_EVERY,
        AWAY,
        150,
        Duration::from_millis(4),
    )
    .await;
    // The instant the receiver came back, then each later instant a batch
    // arrived: the batches that waited for it arrive at that first instant.
    let mut arrived_at = vec![back];
    arrived_at.extend(later);
    arrived_at.dedup();
    for pair in arrived_at.windows(2) {
        let apart = pair[1].duration_since(pair[0]);
        assert!(
            apart >= FLUSH_EVERY,
            "a batch arrived {:?} after the receiver came back, {apart:?} after the \
             batch before it, and the flush is every {FLUSH_EVERY:?}: after a flush \
             that waited for the receiver, the next one is a whole period away, not at \
             the next multiple of the period from the loop's start (an `Interval` with \
             `MissedTickBehavior::Skip`?)",
            pair[1].duration_since(back)
        );
    }
}

/// Three frames, then a read that fails with `TimedOut` once, after which
/// the connection says it has ended (as a socket does after an error): the
/// frames are sent on and the loop returns that error. A read error is the
/// input failing, whatever its kind: a loop that goes round again after it
/// ("a transient error, try again") finds the input ended, and turns the
/// failure into a clean end.
#[tokio::test(start_paused = true)]
async fn a_read_that_times_out_is_the_inputs_failure_not_its_end() {
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    let payloads = THREE_FRAMES;
    // Not ready at first, so the interval's first tick finds nothing.
    let (reader, _) = ScriptedReader::new(
        [encode(&payloads)],
        Then::FailOnce(std::io::ErrorKind::TimedOut),
    );
    let reader = reader.pausing_at([0]);
    let (sender, batches) = mpsc::channel(64);

    let (ended, batches) = within(
        "the loop, over three frames and a read that times out",
        async {
            tokio::join!(
                run_connection(reader, FLUSH_EVERY, sender),
                collect(batches)
            )
        },
    )
    .await;

    let frames: Vec<Bytes> = batches.into_iter().flatten().collect();
    assert_eq!(
        texts(&frames),
        payloads,
        "three frames, then a read that times out: the frames read before are sent on"
    );
    assert!(
        matches!(&ended, Err(FrameError::Io(error)) if error.kind() == std::io::ErrorKind::TimedOut),
        "three frames, then a read that failed with TimedOut, after which the connection \
         ended, and the loop says {ended:?}: the read's error is what the loop returns \
         (an error taken for transient and read past, into the end of the input?)"
    );
}

/// A read error is the input failing, whatever its kind: three frames, then
/// a read that fails once with an error of any kind a read can report
/// (`Interrupted`, `WouldBlock`, `UnexpectedEof`, `NotConnected`,
/// `ConnectionAborted`, `BrokenPipe`, ... `Other`: two dozen), after which
/// the connection reports its end. For each, the frames are sent on and the
/// loop returns that error: not `Ok` (an error of one of these kinds taken
/// for the peer's hang-up, or retried into the end of the input).
#[tokio::test(start_paused = true)]
async fn a_read_error_of_any_kind_is_the_inputs_failure() {
    use std::io::ErrorKind;
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    for kind in [
        ErrorKind::Interrupted,
        ErrorKind::WouldBlock,
        ErrorKind::UnexpectedEof,
        ErrorKind::ConnectionAborted,
        ErrorKind::BrokenPipe,
        ErrorKind::NotConnected,
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionRefused,
        ErrorKind::HostUnreachable,
        ErrorKind::NetworkUnreachable,
        ErrorKind::NetworkDown,
        ErrorKind::AddrInUse,
        ErrorKind::AddrNotAvailable,
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::AlreadyExists,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidData,
        ErrorKind::TimedOut,
        ErrorKind::WriteZero,
        ErrorKind::Unsupported,
        ErrorKind::OutOfMemory,
        ErrorKind::ResourceBusy,
        ErrorKind::Other,
    ] {
        // Not ready at first, so the interval's first tick finds nothing.
        let (reader, _) = ScriptedReader::new([encode(&THREE_FRAMES)], Then::FailOnce(kind));
        let reader = reader.pausing_at([0]);
        let (sender, batches) = mpsc::channel(64);

        let (ended, batches) = within("the loop, over three frames and a read that fails", async {
            tokio::join!(
                run_connection(reader, FLUSH_EVERY, sender),
                collect(batches)
            )
        })
        .await;

        let frames: Vec<Bytes> = batches.into_iter().flatten().collect();
        assert_eq!(
            texts(&frames),
            THREE_FRAMES,
            "three frames, then a read that fails with {kind:?}: the frames read before \
             are sent on"
        );
        assert!(
            matches!(&ended, Err(FrameError::Io(error)) if error.kind() == kind),
            "three frames, then a read that failed with {kind:?}, after which the \
             connection ended, and the loop says {ended:?}: a read error is the input's \
             failure, whatever its kind (one of them taken for the peer's hang-up, or \
             for transient and read past, into the end of the input?)"
        );
    }
}

/// Frames of length 0 are frames: a batch of three empty frames, sent on at
/// the next flush while the connection stays open, then empty frames among
/// others, in their places, and the loop ends with the input, not before.
#[tokio::test(start_paused = true)]
async fn empty_frames_are_sent_on_like_any_other() {
    const FLUSH_EVERY: Duration = Duration::from_millis(10);
    let (mut peer, connection) = tokio::io::duplex(1024);
    let (sender, mut batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    sleep(Duration::from_millis(2)).await; // the loop is up and waiting

    let rounds: [&[&str]; 3] = [&["", "", ""], &["one", "", "two", ""], &["", "three"]];
    for payloads in rounds {
        within("a write", peer.write_all(&encode(payloads)))
            .await
            .unwrap();
        let written = Instant::now();
        // The connection stays open: the batch must come by the flush.
        let batch = tokio::time::timeout(10 * FLUSH_EVERY, batches.recv()).await;
        let waited = written.elapsed();
        let got = batch.as_ref().map(|batch| batch.as_deref().map(texts));
        assert!(
            matches!(&got, Ok(Some(got)) if got == payloads),
            "the frames {payloads:?} (of length 0, some of them) arrived in one write, \
             the connection open, a flush every {FLUSH_EVERY:?}; {waited:?} later the \
             loop had sent on {got:?} (`Err` is nothing yet, `Ok(None)` the loop's end): \
             a frame of length 0 is a frame (skipped as a keep-alive? taken for the \
             peer's goodbye? a batch of no bytes not worth a send?)"
        );
        assert!(
            waited <= FLUSH_EVERY,
            "the batch came {waited:?} after its frames; the flush is every {FLUSH_EVERY:?}"
        );
        // Off the flush's rhythm, so that no write comes as a tick is due.
        sleep(2 * FLUSH_EVERY + FLUSH_EVERY / 2).await;
    }

    drop(peer);
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// The input ends while the channel is full, and the receiver is away for a
/// year (paused time; a flush a day): the last batch waits for it all that
/// time, and the loop returns only once it is sent. A receiver slow to make
/// room has not gone, however long it takes: no time limit of your own on
/// the last send (a day, a week) either.
#[tokio::test(start_paused = true)]
async fn the_last_batch_waits_a_year_for_a_receiver_away() {
    const FLUSH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
    const AWAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let (mut peer, connection) = tokio::io::duplex(1024);
    // Room for one batch, taken by a batch of the check's own.
    let (sender, mut batches) = mpsc::channel(1);
    sender
        .send(vec![Bytes::from_static(b"before")])
        .await
        .unwrap();
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    // An hour: the loop's first tick, at once, has found nothing to send,
    // and the frames and the end come long before the next one.
    sleep(Duration::from_secs(60 * 60)).await;
    within("a write", peer.write_all(&encode(&THREE_FRAMES)))
        .await
        .unwrap();
    drop(peer); // the input ends: what is left to do is the last batch

    within_for("the receiver's absence", AWAY + PATIENCE, sleep(AWAY)).await;
    assert!(
        !running.is_finished(),
        "the input had ended, the receiver was away for {AWAY:?} with the channel \
         full, and the loop had returned {:?}: the last batch waits for room for as \
         long as the receiver is away (a last send that gives up after a day, or a \
         week, of your own?)",
        within("the loop", running).await
    );

    let mut got = Vec::new();
    while let Some(batch) = within("a batch after the receiver's absence", batches.recv()).await {
        got.extend(texts(&batch));
    }
    assert_eq!(
        got,
        ["before", "one", "two", "three"],
        "every frame, in order, once the receiver is back, and then the end"
    );
    let ended = within("the loop to end with the input", running).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the input ended cleanly, and the loop says {ended:?}"
    );
}

/// The loop returns with its input: three frames, then the end, an hour
/// into a flush of a day (paused time). The frames are sent on and the loop
/// returns at once, not at the next flush a day later: the end of the input
/// is not a tick, and a caller waiting for the loop waits for nothing.
#[tokio::test(start_paused = true)]
async fn the_loop_returns_with_its_input_not_at_the_next_flush() {
    const FLUSH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
    let (mut peer, connection) = tokio::io::duplex(1024);
    let (sender, batches) = mpsc::channel(64);
    let running = tokio::spawn(run_connection(connection, FLUSH_EVERY, sender));
    let received = tokio::spawn(collect(batches));
    // An hour: the loop's first tick, at once, has found nothing to send.
    sleep(Duration::from_secs(60 * 60)).await;
    within("a write", peer.write_all(&encode(&THREE_FRAMES)))
        .await
        .unwrap();
    drop(peer); // the input ends
    let ended_at = Instant::now();

    // A minute is plenty for a loop with nothing left to wait for.
    let ended = tokio::time::timeout(Duration::from_secs(60), running).await;
    let waited = ended_at.elapsed();
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the input ended, the channel had room, and {waited:?} later the loop had \
         returned {ended:?} (`Err(Elapsed)` is not yet): the loop returns with its \
         input, after sending the last frames, not at the next flush, a day away (the \
         last batch left for the next tick?)"
    );
    let frames: Vec<Bytes> = within("the batches", received)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        texts(&frames),
        THREE_FRAMES,
        "the frames read before the end"
    );
}
