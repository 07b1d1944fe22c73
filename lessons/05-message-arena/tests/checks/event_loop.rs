//! The loop hands every frame to every plugin, intact and in the order
//! sent, while plugins hold frames across `.await`s and the loop reads on,
//! also when the input pauses inside a frame; it keeps at most
//! `max_in_flight` frames in the plugins' hands (also when one read brings
//! many), drives the handlers while
//! it waits for the connection, frees every frame when its last plugin is
//! done (at once when there is no plugin), and reports a read error or an
//! input cut short after the frames before it.

use std::io::ErrorKind;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lesson::{EventLoop, Plugin};
use lesson_support::{ScriptedReader, Then, settle, within};

use super::{Gate, Recorder, wire};

fn frames(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| format!("frame {n} ").repeat(n % 7 + 1).into_bytes())
        .collect()
}

fn sorted(mut frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames.sort();
    frames
}

/// Drives `run` for `held` of paused time, in which it must not finish
/// (else the check fails with `unfinished`), then runs the check's
/// assertions (`then`, which may also let the plugin go), and drives `run`
/// to its end, which must come in time (`within`, naming `finishing`).
async fn unfinished_for_then_finished<F: Future>(
    run: F,
    held: Duration,
    unfinished: &str,
    then: impl FnOnce(),
    finishing: &str,
) -> F::Output {
    let mut run = pin!(run);
    tokio::select! {
        _ = &mut run => panic!("{unfinished}"),
        () = tokio::time::sleep(held) => {}
    }
    then();
    within(finishing, run).await
}

#[tokio::test(start_paused = true)]
async fn every_plugin_sees_every_frame_intact_while_the_loop_reads_on() {
    const FRAMES: usize = 200;
    const MAX_IN_FLIGHT: usize = 4;
    let sent = frames(FRAMES);
    let (reader, _probe) = ScriptedReader::new(wire(&sent), Then::Eof);
    let steady = Recorder::new(|_| Duration::from_millis(5));
    // Holds some frames far longer than others: handlers end out of order.
    let uneven = Recorder::new(|frame| Duration::from_millis(1 + 7 * (frame.len() % 5) as u64));
    let plugins = vec![
        steady.clone() as Arc<dyn Plugin>,
        uneven.clone() as Arc<dyn Plugin>,
    ];
    let mut event_loop = EventLoop::new(plugins, MAX_IN_FLIGHT);

    let read = within(
        "the loop to read every frame and finish",
        event_loop.run(reader),
    )
    .await
    .expect("no read error was scripted");

    assert_eq!(read, FRAMES as u64, "run returns how many frames it read");
    for (name, plugin) in [("steady", &steady), ("uneven", &uneven)] {
        let seen = plugin.seen();
        assert_eq!(
            seen.len(),
            FRAMES,
            "plugin {name} saw {} frames of {FRAMES}",
            seen.len()
        );
        assert!(
            sorted(seen) == sorted(sent.clone()),
            "plugin {name} saw frames that were not sent, or not every frame once"
        );
        assert!(
            plugin.most_held() <= MAX_IN_FLIGHT,
            "plugin {name} held {} frames at once, with at most {MAX_IN_FLIGHT} in flight: \
             is a frame freed when its first plugin is done, not its last?",
            plugin.most_held()
        );
        assert_eq!(
            plugin.most_held(),
            MAX_IN_FLIGHT,
            "plugin {name} never held {MAX_IN_FLIGHT} frames at once: the loop must read on \
             while plugins hold frames, not wait for each frame's handlers"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn busy_plugins_stop_the_reading_at_max_in_flight() {
    const FRAMES: usize = 50;
    const MAX_IN_FLIGHT: usize = 3;
    let (reader, probe) = ScriptedReader::new(wire(&frames(FRAMES)), Then::Eof);
    // Two plugins, each holding every frame it is given: `max_in_flight`
    // counts frames, whatever the number of plugins holding each one.
    let gate = Gate::new();
    let other = Gate::new();
    let plugins = vec![
        gate.clone() as Arc<dyn Plugin>,
        other.clone() as Arc<dyn Plugin>,
    ];
    let mut event_loop = EventLoop::new(plugins, MAX_IN_FLIGHT);

    // An hour (of paused time) in which the plugin lets go of nothing:
    // however long a plugin holds its frames, the loop reads no more.
    let read = unfinished_for_then_finished(
        event_loop.run(reader),
        Duration::from_secs(3600),
        "the loop finished while its plugin held every frame",
        || {
            assert!(
                probe.chunks_delivered() <= MAX_IN_FLIGHT + 1,
                "the loop read {} frames while its plugin finished none; with at most \
                 {MAX_IN_FLIGHT} in flight it must stop reading (back pressure)",
                probe.chunks_delivered()
            );
            assert!(
                probe.chunks_delivered() >= MAX_IN_FLIGHT,
                "the loop read {} frames in an hour, with room for {MAX_IN_FLIGHT} in flight",
                probe.chunks_delivered()
            );
            for plugin in [&gate, &other] {
                assert_eq!(
                    plugin.holding_now(),
                    MAX_IN_FLIGHT,
                    "with two plugins holding every frame, each must hold max_in_flight \
                     ({MAX_IN_FLIGHT}) frames after an hour: the bound is on frames, not on \
                     handlers (a frame held by two plugins is one frame in flight)"
                );
            }
            gate.open();
            other.open();
        },
        "the loop to finish once the plugin lets go",
    )
    .await;

    assert_eq!(read.expect("no read error was scripted"), FRAMES as u64);
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_holds_when_one_read_brings_many_frames() {
    // A thousand frames in flight (no bound of the loop's own below it), and
    // a hundred more in the same read: the whole frames already in the
    // receive buffer wait for room like the ones still on the wire.
    const MAX_IN_FLIGHT: usize = 1_000;
    const FRAMES: usize = 1_100;
    let (reader, _probe) = ScriptedReader::new([wire(&frames(FRAMES)).concat()], Then::Eof);
    let gate = Gate::new();
    let mut event_loop = EventLoop::new(vec![gate.clone() as Arc<dyn Plugin>], MAX_IN_FLIGHT);

    let mut run = pin!(event_loop.run(reader));
    tokio::select! {
        _ = &mut run => panic!("the loop finished while its plugin held every frame"),
        () = settle() => {}
    }
    assert_eq!(
        gate.holding_now(),
        MAX_IN_FLIGHT,
        "the plugin holds {} frames, with max_in_flight {MAX_IN_FLIGHT} and {FRAMES} frames \
         in one read: the bound holds for frames already in the receive buffer too, and it \
         is the one the loop was given, not one of its own",
        gate.holding_now()
    );
}

#[tokio::test(start_paused = true)]
async fn a_max_in_flight_of_0_is_taken_for_1() {
    // `EventLoop::new` lets at least one frame be in flight: 0 is neither a
    // loop that never hands a frame out nor one without a bound.
    let (reader, _probe) = ScriptedReader::new(wire(&frames(5)), Then::Eof);
    let gate = Gate::new();
    let mut event_loop = EventLoop::new(vec![gate.clone() as Arc<dyn Plugin>], 0);

    let mut run = pin!(event_loop.run(reader));
    tokio::select! {
        read = &mut run => panic!(
            "the loop with max_in_flight 0 finished ({read:?}) while its plugin held every frame"
        ),
        () = settle() => {}
    }
    assert_eq!(
        gate.holding_now(),
        1,
        "with max_in_flight 0 the plugin holds {} frames: `new` takes 0 for 1",
        gate.holding_now()
    );
}

#[tokio::test(start_paused = true)]
async fn one_slow_frame_does_not_stop_the_reading_of_the_others() {
    const FRAMES: usize = 40;
    const MAX_IN_FLIGHT: usize = 2;
    let sent = frames(FRAMES);
    let (reader, _probe) = ScriptedReader::new(wire(&sent), Then::Eof);
    // The first frame is held for 45 s, every other one for a moment:
    // one slot stays taken, and the others pass through the second.
    let plugin = Recorder::new(|frame| match frame.starts_with(b"frame 0 ") {
        true => Duration::from_secs(45),
        false => Duration::from_millis(1),
    });
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], MAX_IN_FLIGHT);

    let read = unfinished_for_then_finished(
        event_loop.run(reader),
        Duration::from_secs(30),
        "the loop finished while its plugin held the first frame",
        || {
            assert_eq!(
                plugin.seen().len(),
                FRAMES - 1,
                "in 30 s the plugin finished {} of the {} quick frames: while one frame is \
                 held, the loop must read on into the free slot, not wait for every handler",
                plugin.seen().len(),
                FRAMES - 1
            );
        },
        "the loop to finish once the slow frame is done",
    )
    .await;

    assert_eq!(read.expect("no read error was scripted"), FRAMES as u64);
    assert!(sorted(plugin.seen()) == sorted(sent), "every frame, once");
}

/// A plugin that notes each frame as it is handed over (in `handle`
/// itself, before its future runs), then holds it as long as `delay` says.
struct Arrivals {
    delay: fn(&[u8]) -> Duration,
    handed: Mutex<Vec<Vec<u8>>>,
}

impl Plugin for Arrivals {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()> {
        self.handed.lock().unwrap().push(frame.to_vec());
        Box::pin(tokio::time::sleep((self.delay)(frame)))
    }
}

#[tokio::test(start_paused = true)]
async fn every_plugin_is_handed_the_frames_in_the_order_they_were_read() {
    const FRAMES: usize = 60;
    let sent = frames(FRAMES);
    // Five frames a read, and handlers that end out of order.
    let chunks: Vec<Vec<u8>> = wire(&sent).chunks(5).map(|five| five.concat()).collect();
    let (reader, _probe) = ScriptedReader::new(chunks, Then::Eof);
    let delays: [fn(&[u8]) -> Duration; 2] = [
        |frame| Duration::from_millis(1 + 7 * (frame.len() % 5) as u64),
        |frame| Duration::from_millis(1 + 3 * (frame.len() % 3) as u64),
    ];
    let plugins = delays.map(|delay| {
        Arc::new(Arrivals {
            delay,
            handed: Mutex::default(),
        })
    });
    let mut event_loop = EventLoop::new(
        plugins
            .iter()
            .map(|plugin| plugin.clone() as Arc<dyn Plugin>)
            .collect(),
        8,
    );

    let read = within("the loop to finish", event_loop.run(reader)).await;

    assert_eq!(read.expect("no read error was scripted"), FRAMES as u64);
    for (n, plugin) in plugins.iter().enumerate() {
        let handed = plugin.handed.lock().unwrap().clone();
        let first_wrong = handed.iter().zip(&sent).position(|(got, want)| got != want);
        assert!(
            handed == sent,
            "plugin {n} was handed {} frames, the first out of order at position {first_wrong:?}: \
             each plugin is handed the frames in the order the connection sent them (its \
             handlers may end in any order)",
            handed.len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_empty_frame_is_a_frame() {
    // The last one too: a header with nothing after it, then the end.
    let sent: [&[u8]; 5] = [b"one", b"", b"", b"four", b""];
    let (reader, _probe) = ScriptedReader::new(wire(&sent), Then::Eof);
    let plugin = Recorder::new(|_| Duration::from_millis(1));
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 2);

    let read = within("the loop to read every frame", event_loop.run(reader))
        .await
        .expect("no read error was scripted");

    assert_eq!(
        read, 5,
        "a length of 0 announces a frame of no bytes, not the end of the input"
    );
    assert_eq!(
        sorted(plugin.seen()),
        sorted(sent.iter().map(|frame| frame.to_vec()).collect())
    );
    assert!(event_loop.arena().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_with_frames_in_flight_leaves_the_loop_whole() {
    // Dropped while full (waiting for room), and while not full (waiting for
    // the connection): either way the next run holds `max_in_flight` of its
    // own.
    for whole in [3, 2] {
        run_after_a_dropped_one(whole).await;
    }
}

/// A loop with `max_in_flight` 3 whose first run is dropped while its plugin
/// holds the first `whole` frames (at most 3), then a second run on it.
async fn run_after_a_dropped_one(whole: usize) {
    const MAX_IN_FLIGHT: usize = 3;
    // Two plugins: each frame of the dropped run is left with two holds that
    // nothing will release (one release each frees none of them).
    let gate = Gate::new();
    let other = Gate::new();
    let plugins = vec![
        gate.clone() as Arc<dyn Plugin>,
        other.clone() as Arc<dyn Plugin>,
    ];
    let mut event_loop = EventLoop::new(plugins, MAX_IN_FLIGHT);
    {
        // The first connection: the plugin holds every frame it gets, and the
        // run is dropped (a timeout, a shutdown) with them in flight. The last
        // read brings the last whole frame and the first half of the next, so
        // the run may be dropped with half a frame in its receive buffer.
        let mut chunks = wire(&frames(whole + 1));
        let next = chunks.pop().expect("a frame after the whole ones");
        chunks[whole - 1].extend_from_slice(&next[..next.len() / 2]);
        let (reader, _probe) = ScriptedReader::new(chunks, Then::Hang);
        let mut run = pin!(event_loop.run(reader));
        tokio::select! {
            _ = &mut run => panic!("the loop finished while its plugin held every frame"),
            () = settle() => {}
        }
        assert_eq!(gate.holding_now(), whole.min(MAX_IN_FLIGHT));
        assert_eq!(other.holding_now(), whole.min(MAX_IN_FLIGHT));
    }
    // The dropped run's handlers are gone (spawned ones once the runtime
    // has dropped the aborted tasks), and hold nothing.
    settle().await;
    assert_eq!(
        gate.holding_now() + other.holding_now(),
        0,
        "the dropped run's handlers still hold frames"
    );

    // The next connection, on the same loop: the handlers of the dropped run
    // are gone with it, so nothing will release the frames they held. The
    // plugin holds every frame again: the new run holds `max_in_flight` of
    // its own, not fewer because the dropped run's frames still count.
    let (reader, _probe) = ScriptedReader::new(wire(&frames(5)), Then::Eof);
    let read = {
        let mut run = pin!(event_loop.run(reader));
        tokio::select! {
            read = &mut run => panic!(
                "a run after a dropped one finished ({read:?}) while its plugin held every frame"
            ),
            () = settle() => {}
        }
        assert_eq!(
            gate.holding_now(),
            MAX_IN_FLIGHT,
            "a run after one dropped with {whole} frames in flight holds {} of its \
             frames at the busiest, not max_in_flight ({MAX_IN_FLIGHT}): the frames the \
             dropped run left count against max_in_flight (free them when the next run \
             starts, whether or not the loop is full, and however many plugins held \
             them)",
            gate.holding_now(),
        );
        gate.open();
        other.open();
        within("a run after a dropped one", run).await
    };
    let read = read.unwrap_or_else(|error| {
        panic!(
            "a run after a dropped one failed ({error}), though its input is whole: \
             does it read bytes the dropped run left in a receive buffer?"
        )
    });
    assert_eq!(
        read, 5,
        "a run after a dropped one reads its own frames: frames a dropped run \
         left held must not count against max_in_flight for ever"
    );
    assert!(
        event_loop.arena().is_empty(),
        "after the second run the arena still holds {} frames: the dropped run's \
         frames are never freed",
        event_loop.arena().len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_finishes_while_the_connection_is_silent() {
    // Three frames in one read, then the peer says nothing, ever: the two
    // frames left in the receive buffer after the first are whole, and are
    // handed out without waiting for a read that never comes.
    let sent: [&[u8]; 3] = [b"one", b"two", b"three"];
    let (reader, _probe) = ScriptedReader::new([wire(&sent).concat()], Then::Hang);
    let plugin = Recorder::new(|_| Duration::from_millis(1));
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 4);

    let mut run = pin!(event_loop.run(reader));
    tokio::select! {
        _ = &mut run => panic!("the connection never ends, so neither may the loop"),
        () = settle() => {}
    }

    assert_eq!(
        sorted(plugin.seen()),
        sorted(sent.iter().map(|frame| frame.to_vec()).collect()),
        "the handlers did not finish while the loop waited for the next frame: drive the \
         handlers while you read, and cut every whole frame out of the receive buffer \
         before you wait for the connection again"
    );

    // An hour (of paused time) in which the peer says nothing more: silence
    // is not the end of the input, and `run` has no timeout of its own.
    tokio::select! {
        read = &mut run => panic!(
            "the connection was silent for an hour and `run` returned {read:?}: only the \
             input's end ends it (a read timeout takes a slow peer for a closed one)"
        ),
        () = tokio::time::sleep(Duration::from_secs(3600)) => {}
    }
}

#[tokio::test(start_paused = true)]
async fn the_loop_frees_every_frame_it_read() {
    const FRAMES: usize = 500;
    const MAX_IN_FLIGHT: usize = 8;
    let (reader, _probe) = ScriptedReader::new(wire(&frames(FRAMES)), Then::Eof);
    let fast = Recorder::new(|_| Duration::from_millis(1));
    let slow = Recorder::new(|frame| Duration::from_millis(2 + (frame.len() % 3) as u64));
    let plugins = vec![fast as Arc<dyn Plugin>, slow as Arc<dyn Plugin>];
    let mut event_loop = EventLoop::new(plugins, MAX_IN_FLIGHT);

    let read = within("the loop to finish", event_loop.run(reader)).await;

    assert_eq!(read.expect("no read error was scripted"), FRAMES as u64);
    let arena = event_loop.arena();
    assert!(
        arena.is_empty(),
        "{} frames are still in the arena after every plugin finished: each plugin's release, \
         and the loop's own, must come",
        arena.len()
    );
    assert!(
        (1..=MAX_IN_FLIGHT).contains(&arena.slot_count()),
        "the arena has {} slots after {FRAMES} frames with at most {MAX_IN_FLIGHT} in flight: \
         frames live in the loop's arena, and freed slots are reused",
        arena.slot_count()
    );

    // With no plugin at all, each frame's only holder is the loop, whose
    // release frees it at once. (In this check, after the one above: a loop
    // that never waits spins on the first part and is stopped there.)
    let (reader, _probe) = ScriptedReader::new(wire(&frames(20)), Then::Eof);
    let mut event_loop = EventLoop::new(Vec::new(), 2);
    let read = within("the loop with no plugin to finish", event_loop.run(reader)).await;
    assert_eq!(read.expect("no read error was scripted"), 20);
    let arena = event_loop.arena();
    assert!(
        arena.is_empty() && arena.slot_count() <= 1,
        "with no plugin, {} frames are still in the arena, in {} slots: the loop's own \
         release must free each frame at once",
        arena.len(),
        arena.slot_count()
    );
}

#[tokio::test(start_paused = true)]
async fn an_input_cut_short_is_an_error_after_the_frames_before_it() {
    // Cut inside a frame's bytes, then inside a length.
    let cut_in_frame = vec![0, 0, 0, 10, b'a', b'b', b'c'];
    let cut_in_length = vec![0, 0];
    for cut in [cut_in_frame, cut_in_length] {
        let mut chunks = wire(&[b"one", b"two"]);
        chunks.push(cut);
        let (reader, _probe) = ScriptedReader::new(chunks, Then::Eof);
        let plugin = Recorder::new(|_| Duration::from_millis(5));
        let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 4);

        let result = within("the loop to finish", event_loop.run(reader)).await;

        let error =
            result.expect_err("the input ended inside a frame: that is an error, not an end");
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "{error}");
        assert_eq!(
            sorted(plugin.seen()),
            [b"one".to_vec(), b"two".to_vec()],
            "the frames before the error are handled to the end before `run` returns"
        );
    }
}

/// A plugin whose handler ends after a few polls, as many as `polls` says
/// for the frame: it lets go of frames while the loop is in the middle of
/// reading the next one.
struct Quick {
    polls: fn(&[u8]) -> usize,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl Plugin for Quick {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for _ in 0..(self.polls)(frame) {
                tokio::task::yield_now().await;
            }
            self.seen.lock().unwrap().push(frame.to_vec());
        })
    }
}

#[tokio::test(start_paused = true)]
async fn every_frame_arrives_whole_when_the_input_pauses_inside_it() {
    const FRAMES: usize = 12;
    let sent = frames(FRAMES);
    let input = wire(&sent).concat();
    // Not ready before every byte: each length and each frame arrives a byte
    // a read, and handlers end between those reads.
    let (reader, _probe) = ScriptedReader::new([&input], Then::Eof);
    let reader = reader.pausing_at(1..input.len());
    let plugin = Arc::new(Quick {
        polls: |frame| 1 + frame.len() % 5,
        seen: Mutex::default(),
    });
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 4);

    let read = within("the loop to finish", event_loop.run(reader)).await;

    assert_eq!(
        read.ok(),
        Some(FRAMES as u64),
        "an input that pauses inside a length or a frame is no error and no end: a read \
         that is not ready yet is only slow, and one that a finished handler interrupts must \
         lose no byte it already read"
    );
    let seen = plugin.seen.lock().unwrap().clone();
    assert!(
        sorted(seen) == sorted(sent),
        "the plugin saw frames that were not sent, or not every frame once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_error_is_returned_after_the_frames_before_it() {
    // A header announcing more than 16 MiB, then a reset connection.
    let oversize = u32::try_from(16 * 1024 * 1024 + 1).unwrap().to_be_bytes();
    for (then, chunks, kind) in [
        (Then::Hang, vec![oversize.to_vec()], ErrorKind::InvalidData),
        (Then::Fail, vec![], ErrorKind::ConnectionReset),
    ] {
        let mut input = wire(&[b"one", b"two"]);
        input.extend(chunks);
        let (reader, _probe) = ScriptedReader::new(input, then);
        let plugin = Recorder::new(|_| Duration::from_millis(5));
        let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 4);

        let result = within("the loop to finish", event_loop.run(reader)).await;

        let error = result.expect_err("a read error is returned");
        assert_eq!(error.kind(), kind, "{error}");
        assert_eq!(
            sorted(plugin.seen()),
            [b"one".to_vec(), b"two".to_vec()],
            "the frames before a {kind:?} error are handled to the end before `run` returns"
        );
        assert!(
            event_loop.arena().is_empty(),
            "after a {kind:?} error, {} frames are still in the arena: their handlers ended, \
             so their releases must come",
            event_loop.arena().len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_frame_of_16_mib_is_read_and_one_byte_more_is_refused() {
    const LIMIT: usize = 16 * 1024 * 1024;
    // A frame of exactly the limit is a frame...
    let (reader, _probe) = ScriptedReader::new(wire(&[vec![1_u8; LIMIT]]), Then::Eof);
    let plugin = Recorder::new(|_| Duration::ZERO);
    let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 1);
    let read = within("a 16 MiB frame", event_loop.run(reader)).await;
    assert_eq!(read.ok(), Some(1), "a frame of exactly 16 MiB is read");

    // ...and a header announcing one byte more is an `InvalidData` error,
    // found from the header: the bytes are never asked for.
    let announced = u32::try_from(LIMIT + 1).unwrap().to_be_bytes();
    let (reader, _probe) = ScriptedReader::new([&announced[..]], Then::Hang);
    let mut event_loop = EventLoop::new(vec![plugin as Arc<dyn Plugin>], 1);
    let error = within("an oversize header", event_loop.run(reader))
        .await
        .expect_err("a frame longer than 16 MiB is refused");
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
}

#[test]
fn an_oversize_header_is_refused_before_memory_is_allocated_for_its_frame() {
    // A header announcing one byte more than 16 MiB, then silence.
    let announced = u32::try_from(16 * 1024 * 1024 + 1).unwrap().to_be_bytes();
    let (reader, _probe) = ScriptedReader::new([&announced[..]], Then::Hang);
    let runtime = lesson_support::paused_runtime();

    let (result, counted) = lesson_support::count_allocations(|| {
        runtime.block_on(async {
            let mut event_loop = EventLoop::new(Vec::new(), 1);
            within("an oversize header", event_loop.run(reader)).await
        })
    });

    let error = result.expect_err("a frame longer than 16 MiB is refused");
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    assert!(
        counted.bytes_total < 1024 * 1024,
        "refusing a header of 16 MiB + 1 cost {} KiB of allocations: a length read off the \
         wire must not decide alone how much memory the loop allocates, so check it before \
         you reserve room for the frame",
        counted.bytes_total / 1024
    );
}

#[test]
fn a_large_frame_is_read_into_one_allocation_of_about_its_size() {
    const LEN: usize = 1024 * 1024;
    let input = wire(&[vec![5_u8; LEN]]).concat();
    // 64 KiB reads, as a socket might deliver them.
    let (reader, _probe) = ScriptedReader::new(input.chunks(64 * 1024), Then::Eof);
    let plugin = Recorder::new(|_| Duration::ZERO);
    let runtime = lesson_support::paused_runtime();

    let (read, counted) = lesson_support::count_allocations(|| {
        runtime.block_on(async {
            let mut event_loop = EventLoop::new(vec![plugin.clone() as Arc<dyn Plugin>], 1);
            within("the loop to finish", event_loop.run(reader)).await
        })
    });

    assert_eq!(read.ok(), Some(1));
    // The plugin's record of the frame is one copy of it (`to_vec`): 1 MiB.
    // Reading it needs one more allocation of about its size; growing the
    // buffer read by read, or asking for more than the frame, costs another
    // megabyte or more.
    assert!(
        counted.bytes_total < (2 * LEN + LEN / 4) as u64,
        "a 1 MiB frame cost {} KiB of allocations in {} allocations, the plugin's own \
         1 MiB copy included: reserve room for the frame once its length is known",
        counted.bytes_total / 1024,
        counted.count_total
    );
}
