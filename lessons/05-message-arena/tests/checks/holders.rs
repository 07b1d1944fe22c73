//! A message stays until its last holder lets go: `insert` makes the caller
//! its first holder, each `hold` one more, each `release` one fewer, and only
//! the last release frees it. A freed message leaves the arena: the arena
//! keeps no handle of its bytes, however it was freed.

use lesson::{MessageArena, Release};

use super::payload;

#[test]
fn a_message_is_freed_only_when_its_last_holder_releases_it() {
    let mut arena = MessageArena::new();
    let msg = arena.insert(payload(7));
    let other = arena.insert(payload(8));
    assert!(arena.hold(msg));
    assert!(arena.hold(msg));
    assert_eq!(arena.len(), 2);

    assert_eq!(
        arena.release(msg),
        Release::Held(2),
        "three holders, one released"
    );
    assert_eq!(
        arena.get(msg),
        Some(&payload(7)),
        "two plugins still hold the message, yet it is gone"
    );
    assert_eq!(arena.release(msg), Release::Held(1));
    assert_eq!(arena.get(msg), Some(&payload(7)));
    assert_eq!(arena.len(), 2);

    assert_eq!(
        arena.release(msg),
        Release::Freed(payload(7)),
        "the last release frees the message and hands it back"
    );
    assert_eq!(arena.get(msg), None, "a freed message is gone");
    assert_eq!(arena.len(), 1);
    assert_eq!(
        arena.release(msg),
        Release::Stale,
        "a ref released once too often is stale"
    );
    assert_eq!(
        arena.get(other),
        Some(&payload(8)),
        "other messages are untouched"
    );
}

#[test]
fn a_message_held_by_a_hundred_thousand_holders_is_freed_by_the_last() {
    // More than a `u16` counts: `Release::Held` counts holders in a `u32`.
    const HOLDERS: u32 = 100_000;
    let mut arena = MessageArena::new();
    let msg = arena.insert(payload(9));
    for _ in 1..HOLDERS {
        assert!(arena.hold(msg));
    }
    for left in (1..HOLDERS).rev() {
        assert_eq!(
            arena.release(msg),
            Release::Held(left),
            "{HOLDERS} holders, {} released: does the count of holders wrap?",
            HOLDERS - left
        );
    }
    assert_eq!(arena.get(msg), Some(&payload(9)));
    assert_eq!(arena.release(msg), Release::Freed(payload(9)));
    assert!(arena.is_empty());
}

#[test]
fn a_freed_message_leaves_the_arena() {
    // With a limit of 1, every slot retires when its first message is freed.
    for limit in [u32::MAX, 1] {
        let mut arena = MessageArena::with_generation_limit(limit);
        let released = payload(1);
        let msg = arena.insert(released.clone());
        assert!(arena.hold(msg));
        assert_eq!(arena.release(msg), Release::Held(1));
        let Release::Freed(back) = arena.release(msg) else {
            panic!("the last release frees the message");
        };
        drop(back);
        let retained = payload(2);
        arena.insert(retained.clone());
        arena.retain(|_, _| false);
        let cleared = payload(3);
        arena.insert(cleared.clone());
        arena.clear();
        for (how, bytes) in [
            ("a last release", released),
            ("retain", retained),
            ("clear", cleared),
        ] {
            assert!(
                bytes.is_unique(),
                "a message freed by {how} (generation limit {limit}) is still held by the arena: \
                 a freed slot must not keep its last message's bytes"
            );
        }
    }
}
