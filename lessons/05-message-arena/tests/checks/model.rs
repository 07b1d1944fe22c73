//! The arena agrees with a model, a `HashMap` of the live messages and their
//! holders, over 2,500 random sequences of insert, get, hold, release,
//! retain and clear: no stale ref ever reads a message (zero stale hits),
//! no live message is ever missing or changed (zero lost messages), no ref
//! is handed out twice, and the arena has no more slots than the most
//! messages it held at once.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use lesson::{MessageArena, MessageRef, Release};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};

/// One step of a sequence. The `usize`s pick one of the refs handed out so
/// far, live or stale.
#[derive(Clone, Debug)]
enum Op {
    Insert,
    Get(usize),
    Hold(usize),
    Release(usize),
    /// Keeps the messages whose number has this parity.
    Retain(bool),
    Clear,
}

/// Decodes one random word into a step, most often an insert, a get or a
/// release. (A plain `u32` strategy keeps the generation of 2,500
/// sequences fast in a debug build; shrinking still works, towards 0, an
/// insert.)
fn op(word: u32) -> Op {
    let choice = (word >> 8) as usize % 64;
    match word % 23 {
        0..=5 => Op::Insert,
        6..=10 => Op::Get(choice),
        11..=13 => Op::Hold(choice),
        14..=20 => Op::Release(choice),
        21 => Op::Retain(choice.is_multiple_of(2)),
        _ => Op::Clear,
    }
}

/// What the arena should hold: each live message's number, bytes and holders.
#[derive(Default)]
struct Model {
    live: HashMap<MessageRef, (usize, Bytes, u32)>,
    handed_out: Vec<MessageRef>,
    peak: usize,
}

impl Model {
    fn pick(&self, choice: usize) -> Option<MessageRef> {
        let n = self.handed_out.len();
        (n > 0).then(|| self.handed_out[choice % n])
    }
}

/// `got` is what the arena gave for `msg`: it must be the model's message
/// itself (the same memory, not a copy), or nothing for a stale ref.
fn agrees(model: &Model, msg: MessageRef, got: Option<&Bytes>) -> Result<(), TestCaseError> {
    match (got, model.live.get(&msg)) {
        (Some(bytes), Some((n, expected, _))) => {
            prop_assert_eq!(bytes, expected, "message {} changed", n);
            prop_assert_eq!(
                bytes.as_ptr(),
                expected.as_ptr(),
                "message {} was copied",
                n
            );
        }
        (None, None) => {}
        (Some(bytes), None) => {
            prop_assert!(false, "stale hit: freed {:?} read {:?}", msg, bytes)
        }
        (None, Some((n, _, _))) => {
            prop_assert!(false, "lost message: {:?} (message {}) is live", msg, n)
        }
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut arena = MessageArena::new();
    let mut model = Model::default();
    let mut seen = HashSet::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert => {
                let bytes = Bytes::from(step.to_string());
                let msg = arena.insert(bytes.clone());
                prop_assert!(seen.insert(msg), "{:?} was handed out twice", msg);
                model.live.insert(msg, (step, bytes, 1));
                model.handed_out.push(msg);
                model.peak = model.peak.max(model.live.len());
            }
            Op::Get(choice) => {
                if let Some(msg) = model.pick(choice) {
                    agrees(&model, msg, arena.get(msg))?;
                }
            }
            Op::Hold(choice) => {
                if let Some(msg) = model.pick(choice) {
                    let live = model.live.get_mut(&msg);
                    prop_assert_eq!(arena.hold(msg), live.is_some(), "hold({:?})", msg);
                    if let Some((_, _, holders)) = live {
                        *holders += 1;
                    }
                }
            }
            Op::Release(choice) => {
                if let Some(msg) = model.pick(choice) {
                    let expected = match model.live.get_mut(&msg) {
                        None => Release::Stale,
                        Some((_, _, holders)) if *holders > 1 => {
                            *holders -= 1;
                            Release::Held(*holders)
                        }
                        Some(_) => Release::Freed(model.live.remove(&msg).unwrap().1),
                    };
                    prop_assert_eq!(arena.release(msg), expected, "release({:?})", msg);
                }
            }
            Op::Retain(parity) => {
                let mut shown = Vec::new();
                arena.retain(|msg, bytes| {
                    shown.push((msg, bytes.clone()));
                    model
                        .live
                        .get(&msg)
                        .is_some_and(|(n, _, _)| n.is_multiple_of(2) == parity)
                });
                prop_assert_eq!(
                    shown.len(),
                    model.live.len(),
                    "retain shows every live message"
                );
                for (msg, bytes) in &shown {
                    agrees(&model, *msg, Some(bytes))?;
                }
                model
                    .live
                    .retain(|_, (n, _, _)| n.is_multiple_of(2) == parity);
            }
            Op::Clear => {
                arena.clear();
                model.live.clear();
            }
        }
        prop_assert_eq!(arena.len(), model.live.len(), "len after {:?}", op);
        prop_assert_eq!(
            arena.is_empty(),
            model.live.is_empty(),
            "is_empty after {:?}",
            op
        );
        prop_assert!(
            arena.slot_count() <= model.peak,
            "{} slots, but at most {} messages were ever live at once: reuse free slots",
            arena.slot_count(),
            model.peak
        );
    }
    for msg in &model.handed_out {
        agrees(&model, *msg, arena.get(*msg))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Every wrong fix in fixes.toml fails within the first 30 of these
        // sequences (the seed is fixed: the same ones every run); 2,500 keep
        // a wide margin at a quarter of the cost of 10,000 in the learner's
        // save -> verdict loop.
        cases: 2_500,
        // The same sequences every run, and no regression files written
        // next to the checks.
        rng_seed: RngSeed::Fixed(0x05),
        failure_persistence: None,
        max_shrink_iters: 10_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_arena_agrees_with_a_map_of_live_messages(ops in prop::collection::vec(any::<u32>().prop_map(op), 1..48)) {
        run(&ops)?;
    }
}
