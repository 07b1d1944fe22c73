//! # Lesson 05: references that survive an `.await`
//!
//! An `EventLoop` reads frames from a connection and hands each one to every
//! plugin. Plugins see a frame as `&[u8]`, and take their time with it: a
//! handler awaits a database or a downstream service while it holds the
//! frame. The loop does not wait for them. It reads on, with at most
//! `max_in_flight` frames in the plugins' hands, and it reads every frame
//! into one receive buffer, reused, so that a frame costs no allocation.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! error; the chapter is `book/src/05-message-arena.md`, and `cargo run --
//! hint 05` at the root gives one hint at a time.
//!
//! The way out is a `MessageArena`: frames in slots of their own, named by a
//! `MessageRef` that can be kept across any `.await`. Its methods are below,
//! with what each promises, and `todo!()` bodies: write them, then make the
//! loop use the arena. The checks in `tests/` hold both to their promises:
//! stale refs refused, a frame freed only when its last holder lets go,
//! memory that stays bounded, nothing copied, every frame delivered intact.
//!
//! Change the insides as you like; keep the public API (`MessageRef`,
//! `Release`, `MessageArena` and its methods, `Plugin`, `EventLoop::new`,
//! `EventLoop::arena`, `EventLoop::run`), which is what the checks use.
#![forbid(unsafe_code)]

use std::io;
use std::pin::pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest frame the loop accepts: a length read off the wire must not
/// decide alone how much memory the loop allocates.
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// A handle to a message in a [`MessageArena`]: the slot it is in (`index`)
/// and which of that slot's messages it is (`generation`). A plugin can keep
/// it across any `.await`.
///
/// These are the seed text's fields. The checks want `MessageRef` to be 8
/// bytes, and `Option<MessageRef>` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageRef {
    index: usize,
    generation: u64,
}

/// What [`MessageArena::release`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// Others still hold the message: this many.
    Held(u32),
    /// That was the last holder: the message has left the arena, and here it
    /// is. Its slot takes another message under a new generation, or, at the
    /// generation limit, retires.
    Freed(Bytes),
    /// The ref is stale: its message was freed before. Nothing changed.
    Stale,
}

/// Messages in slots, named by [`MessageRef`]s.
///
/// What it must promise: a freed slot is reused before the arena grows; a
/// ref whose message was freed is stale, and `get`, `hold` and `release`
/// refuse it, even after its slot holds another message; no ref is ever
/// handed out twice.
#[derive(Debug, Default)]
pub struct MessageArena {
    // Yours to design.
}

impl MessageArena {
    /// An empty arena, whose slots are retired after 2^32 - 1 messages each.
    pub fn new() -> Self {
        MessageArena::default()
    }

    /// An empty arena whose slots are retired once a message of generation
    /// `limit` is freed: each slot holds at most `limit` messages in its
    /// life. [`MessageArena::new`] uses `u32::MAX`; a small limit shows the
    /// policy at work without 4 billion frees.
    ///
    /// # Panics
    ///
    /// If `limit` is 0: generations start at 1.
    pub fn with_generation_limit(limit: u32) -> Self {
        todo!("an arena that retires a slot after {limit} generations")
    }

    /// Stores `bytes` (the handle, not a copy of the payload) with one
    /// holder, the caller, and names it.
    pub fn insert(&mut self, bytes: Bytes) -> MessageRef {
        todo!("store {bytes:?}")
    }

    /// The message `msg` names, or `None` if it was freed: a stale ref never
    /// reads the message that took its slot.
    pub fn get(&self, msg: MessageRef) -> Option<&Bytes> {
        todo!("look up {msg:?}")
    }

    /// Adds a holder to `msg`'s message; `false` if `msg` is stale.
    pub fn hold(&mut self, msg: MessageRef) -> bool {
        todo!("hold {msg:?}")
    }

    /// Takes a holder off `msg`'s message, and frees it if that was the last.
    pub fn release(&mut self, msg: MessageRef) -> Release {
        todo!("release {msg:?}")
    }

    /// Frees every message for which `keep` returns `false`, whoever holds
    /// it. Their refs are stale from now on, as after a last release.
    pub fn retain(&mut self, keep: impl FnMut(MessageRef, &Bytes) -> bool) {
        let _ = keep;
        todo!("retain")
    }

    /// Frees every message. Every ref handed out so far is stale; the slots
    /// stay, for the messages to come.
    pub fn clear(&mut self) {
        todo!("clear")
    }

    /// How many messages are live.
    pub fn len(&self) -> usize {
        todo!("count the live messages")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many slots exist: live, free or retired. The arena never shrinks,
    /// and grows only when no slot is free.
    pub fn slot_count(&self) -> usize {
        todo!("count the slots")
    }
}

/// A plugin. Its handler may hold the frame for as long as it runs, across
/// any number of `.await`s, while the loop reads on.
pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()>;
}

/// Reads frames from a connection and hands each one to every plugin.
pub struct EventLoop {
    plugins: Vec<Arc<dyn Plugin>>,
    /// Where the frames should live; the loop does not use it yet.
    arena: MessageArena,
    max_in_flight: usize,
}

impl EventLoop {
    /// A loop over `plugins` that lets at most `max_in_flight` (at least 1)
    /// frames be in the plugins' hands at once.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>, max_in_flight: usize) -> Self {
        EventLoop {
            plugins,
            arena: MessageArena::new(),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// The arena that holds the frames the plugins are working on.
    pub fn arena(&self) -> &MessageArena {
        &self.arena
    }

    /// Reads frames (a 4-byte big-endian length, then that many bytes) until
    /// the input ends, hands each to every plugin, and returns how many it
    /// read once every handler has finished. A read error, or an input that
    /// ends inside a frame, is returned once the handlers of the frames
    /// before it have finished.
    pub async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> io::Result<u64> {
        // The receive buffer: one allocation for the whole connection.
        let mut buf = Vec::new();
        let mut handlers = FuturesUnordered::new();
        let mut frames = 0;
        let result = loop {
            // Back pressure: no new frame while max_in_flight are held.
            while handlers.len() >= self.max_in_flight * self.plugins.len().max(1) {
                handlers.next().await;
            }
            // Read the next frame while the handlers of earlier ones run. The
            // read future lives across the loop, so a finished handler never
            // cancels a read halfway through.
            let read = {
                let mut read = pin!(read_frame(&mut reader, &mut buf));
                loop {
                    tokio::select! {
                        biased;
                        Some(()) = handlers.next() => {}
                        read = &mut read => break read,
                    }
                }
            };
            match read {
                Ok(true) => frames += 1,
                Ok(false) => break Ok(frames),
                Err(error) => break Err(error),
            }
            for plugin in &self.plugins {
                handlers.push(plugin.handle(&buf));
            }
        };
        // Every frame read is handled to the end, even after a read error.
        while handlers.next().await.is_some() {}
        result
    }
}

/// Reads one frame into `buf`, reusing its allocation. `false` if the input
/// ends before a frame starts.
async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<bool> {
    let first = match reader.read_u8().await {
        Ok(byte) => byte,
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(error) => return Err(error),
    };
    let mut rest = [0; 3];
    reader.read_exact(&mut rest).await?;
    let len = u32::from_be_bytes([first, rest[0], rest[1], rest[2]]) as usize;
    if len > MAX_FRAME_LEN {
        let message = format!("a frame of {len} bytes is longer than {MAX_FRAME_LEN}");
        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
    }
    buf.clear();
    buf.resize(len, 0);
    reader.read_exact(buf).await?;
    Ok(true)
}
