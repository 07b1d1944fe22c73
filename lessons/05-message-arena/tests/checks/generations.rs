//! A ref is never handed out twice: a slot whose generation would wrap is
//! retired instead. And a ref is as small as the well-kept crates make
//! theirs: 8 bytes, and `Option<MessageRef>` too. A retired slot stays
//! retired, and its refs stale, whatever freed its last message. The
//! default limit is 2^32 - 1, not a smaller one, and a limit of 0 is refused.

use std::collections::HashSet;

use bytes::Bytes;
use lesson::{MessageArena, MessageRef, Release};

use super::payload;

#[test]
fn a_slot_is_retired_before_its_generation_would_wrap() {
    const LIMIT: u32 = 3;
    const MESSAGES: usize = 30;
    let mut arena = MessageArena::with_generation_limit(LIMIT);
    let mut handed_out = HashSet::new();
    let mut earlier: Vec<MessageRef> = Vec::new();
    for n in 0..MESSAGES {
        let msg = arena.insert(payload(n));
        assert!(
            handed_out.insert(msg),
            "{msg:?} was handed out twice, so every old copy of it now names message {n}: \
             a freed slot needs a new generation, and one at the limit must be retired, not \
             wrapped around"
        );
        for (m, old) in earlier.iter().enumerate() {
            assert_eq!(arena.get(*old), None, "message {m}'s ref reads message {n}");
        }
        earlier.push(msg);
        assert_eq!(arena.release(msg), Release::Freed(payload(n)));
    }
    // One message at a time: each slot holds LIMIT of them, then retires.
    assert_eq!(
        arena.slot_count(),
        MESSAGES / LIMIT as usize,
        "with a limit of {LIMIT}, a slot holds generations 1 to {LIMIT} and is then retired"
    );
}

#[test]
fn a_default_arena_reuses_a_slot_for_more_than_65_536_messages() {
    // More messages than 16 bits count, one at a time, in one slot: the
    // limit of `new()` and `default()` is 2^32 - 1, and no ref comes twice.
    const MESSAGES: usize = 70_000;
    for (made_by, mut arena) in [
        ("new()", MessageArena::new()),
        ("default()", MessageArena::default()),
    ] {
        let first = arena.insert(Bytes::from_static(b"first"));
        assert!(matches!(arena.release(first), Release::Freed(_)));
        for n in 1..MESSAGES {
            let msg = arena.insert(Bytes::from_static(b"again"));
            assert_ne!(
                msg, first,
                "message {n} got the first message's ref, in an arena made by {made_by}: \
                 does the generation wrap around at 16 bits?"
            );
            assert!(matches!(arena.release(msg), Release::Freed(_)));
        }
        assert_eq!(
            arena.slot_count(),
            1,
            "{MESSAGES} messages one at a time took {} slots in an arena made by {made_by}, \
             whose slots retire only after 2^32 - 1 messages each: is its limit one of \
             your own?",
            arena.slot_count()
        );
    }
}

#[test]
fn option_message_ref_is_as_small_as_message_ref() {
    assert_eq!(
        size_of::<MessageRef>(),
        8,
        "an index and a generation of 32 bits each, as in slotmap and thunderdome"
    );
    assert_eq!(
        size_of::<Option<MessageRef>>(),
        size_of::<MessageRef>(),
        "`Option<MessageRef>` needs a niche: a generation that is never 0 (`NonZeroU32`)"
    );
}

#[test]
fn a_retired_slot_stays_retired() {
    // A limit of 1: every slot retires when its first message is freed, by a
    // last release, by `clear` or by `retain`.
    let mut arena = MessageArena::with_generation_limit(1);
    let mut earlier: Vec<MessageRef> = Vec::new();
    for (n, free) in ["release", "clear", "retain"].into_iter().enumerate() {
        let msg = arena.insert(payload(n));
        assert_eq!(
            arena.slot_count(),
            n + 1,
            "message {n} went into a retired slot: a slot that reached the limit never takes \
             a message again, not after `clear` or `retain` either"
        );
        assert!(!earlier.contains(&msg), "{msg:?} was handed out twice");
        match free {
            "release" => assert_eq!(arena.release(msg), Release::Freed(payload(n))),
            "clear" => arena.clear(),
            _ => arena.retain(|_, _| false),
        }
        assert_eq!(
            (arena.len(), arena.is_empty()),
            (0, true),
            "a retired slot holds no message, so it does not count in `len`"
        );
        earlier.push(msg);
        for old in &earlier {
            assert_eq!(arena.get(*old), None);
            assert!(
                !arena.hold(*old),
                "the stale ref {old:?} of a retired slot took a holder: a retired slot keeps \
                 its last generation, so the generation alone does not say that a ref is live"
            );
            assert_eq!(arena.release(*old), Release::Stale);
        }
    }
}

#[test]
#[should_panic]
fn a_generation_limit_of_0_is_refused() {
    // Generations start at 1, so a limit of 0 would allow no message at all:
    // it is a caller's mistake, and `with_generation_limit` panics, as its
    // documentation says. It is not "no limit": that is `new()`.
    let _ = MessageArena::with_generation_limit(0);
}
