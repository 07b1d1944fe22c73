//! A ref whose message was freed is stale, and a stale ref is refused: it
//! never reads, holds or frees the message that took its slot. After a last
//! release, after `clear`, after `retain`.

use lesson::{MessageArena, MessageRef, Release};

use super::payload;

#[test]
fn a_stale_ref_is_refused_after_its_slot_is_reused() {
    // `default()` is the same arena as `new()`.
    for (made_by, mut arena) in [
        ("new()", MessageArena::new()),
        ("default()", MessageArena::default()),
    ] {
        stale_ref_refused_after_reuse(&mut arena, made_by);
    }
}

fn stale_ref_refused_after_reuse(arena: &mut MessageArena, made_by: &str) {
    let first = arena.insert(payload(1));
    assert_eq!(arena.release(first), Release::Freed(payload(1)));
    let second = arena.insert(payload(2));

    assert_eq!(
        arena.slot_count(),
        1,
        "in an arena made by {made_by}, the second message must reuse the first one's free \
         slot: is the free list used?"
    );
    assert_ne!(first, second, "a reused slot hands out a new ref");
    assert_eq!(
        arena.get(first),
        None,
        "a stale ref read the message that took its slot: bump the generation when a slot is freed, \
         and compare it in `get`"
    );
    assert!(!arena.hold(first), "a stale ref held the new message");
    assert_eq!(
        arena.release(first),
        Release::Stale,
        "a stale ref released the new message"
    );
    assert_eq!(arena.get(second), Some(&payload(2)));
    assert_eq!(
        arena.release(second),
        Release::Freed(payload(2)),
        "the stale ref changed the new message's holders"
    );
}

#[test]
fn clear_makes_every_ref_stale_and_keeps_the_slots() {
    let mut arena = MessageArena::new();
    let old: Vec<MessageRef> = (0..4).map(|n| arena.insert(payload(n))).collect();
    assert!(arena.hold(old[0]), "a live ref takes another holder");
    arena.clear();
    assert!(arena.is_empty(), "clear frees every message, held or not");

    let new: Vec<MessageRef> = (4..8).map(|n| arena.insert(payload(n))).collect();
    assert_eq!(arena.slot_count(), 4, "the cleared slots are reused");
    for msg in &old {
        assert_eq!(
            arena.get(*msg),
            None,
            "a ref from before `clear` reads a message inserted after it: clear must bump generations too"
        );
        assert!(!arena.hold(*msg));
        assert_eq!(arena.release(*msg), Release::Stale);
    }
    for (n, msg) in (4..).zip(&new) {
        assert_eq!(arena.get(*msg), Some(&payload(n)));
    }
}

#[test]
fn retain_frees_what_it_drops_and_makes_those_refs_stale() {
    let mut arena = MessageArena::new();
    let refs: Vec<MessageRef> = (0..6).map(|n| arena.insert(payload(n))).collect();
    for msg in &refs {
        assert!(arena.hold(*msg), "a live ref takes another holder");
    }

    let mut visited = Vec::new();
    arena.retain(|msg, bytes| {
        visited.push((msg, bytes.clone()));
        msg == refs[1] || msg == refs[4]
    });
    visited.sort_by_key(|(msg, _)| refs.iter().position(|r| r == msg));
    let expected: Vec<_> = refs.iter().copied().zip((0..6).map(payload)).collect();
    assert_eq!(
        visited, expected,
        "retain shows every live message with its ref"
    );
    assert_eq!(
        arena.len(),
        2,
        "retain frees the messages it drops, held or not"
    );

    let new: Vec<MessageRef> = (6..10).map(|n| arena.insert(payload(n))).collect();
    assert_eq!(arena.slot_count(), 6, "the slots retain freed are reused");
    for (n, msg) in refs.iter().enumerate() {
        if n == 1 || n == 4 {
            assert_eq!(
                arena.get(*msg),
                Some(&payload(n)),
                "a kept message is untouched"
            );
            assert_eq!(
                arena.release(*msg),
                Release::Held(1),
                "a kept message keeps its holders"
            );
        } else {
            assert_eq!(
                arena.get(*msg),
                None,
                "a ref that `retain` dropped reads a message inserted after it: retain must bump generations too"
            );
            assert_eq!(arena.release(*msg), Release::Stale);
        }
    }
    for (n, msg) in (6..).zip(&new) {
        assert_eq!(arena.get(*msg), Some(&payload(n)));
    }
}
