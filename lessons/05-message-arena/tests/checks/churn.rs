//! Memory stays bounded under churn: freed slots are reused, so a million
//! insert and release cycles with at most 64 messages live never grow the
//! arena past 64 slots, and allocate next to nothing once those exist.

use bytes::Bytes;
use lesson::{MessageArena, MessageRef, Release};
use lesson_support::count_allocations;

#[test]
fn a_million_churn_cycles_never_grow_the_arena_past_the_live_count() {
    const LIVE: usize = 64;
    const CYCLES: usize = 1_000_000;
    let message = Bytes::from_static(b"churn");
    let mut arena = MessageArena::new();
    let mut live: Vec<MessageRef> = (0..LIVE).map(|_| arena.insert(message.clone())).collect();
    // xorshift: which live message goes next, in no particular order.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;

    let ((), counted) = count_allocations(|| {
        for cycle in 0..CYCLES {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let slot = (state % LIVE as u64) as usize;
            let old = live[slot];
            assert!(
                matches!(arena.release(old), Release::Freed(_)),
                "a live message with one holder is freed by its release"
            );
            live[slot] = arena.insert(message.clone());
            if cycle % 1024 == 0 {
                assert_eq!(arena.get(old), None, "a freed message's ref is stale");
            }
        }
    });

    assert_eq!(arena.len(), LIVE);
    assert!(
        arena.slot_count() <= LIVE,
        "{} slots for at most {LIVE} live messages: freed slots must be reused (the free list)",
        arena.slot_count()
    );
    assert!(
        counted.count_total < 100,
        "{} allocations in {CYCLES} cycles: a steady arena reuses its slots",
        counted.count_total
    );
}
