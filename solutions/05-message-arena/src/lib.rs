//! # Lesson 05, reference solution: frames in an arena, named by handles
//!
//! A plugin may hold a frame across an `.await` while the loop reads the
//! next one, so no frame may live in memory that the next read overwrites.
//! The loop reads into one receive buffer, a `BytesMut` reused for every
//! frame, and cuts each frame off its front as a `Bytes` (`split_to`, then
//! `freeze`): a view that owns its share of the memory, which the buffer
//! never writes to again. Each frame is kept in a `MessageArena`: one slot per frame, named by a `MessageRef` (an index and
//! a generation: 8 bytes, `Copy`, `'static`). The arena counts who holds
//! each frame: the loop while it hands the frame out, then one holder per
//! plugin still working on it. The last release frees the slot for a later
//! frame and bumps its generation, so a ref kept too long is refused instead
//! of naming somebody else's message.
#![forbid(unsafe_code)]

use std::io;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest frame the loop accepts: a length read off the wire must not
/// decide alone how much memory the loop allocates.
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// The length prefix: a `u32`, big-endian.
const HEADER_LEN: usize = 4;

/// The size of a new chunk of the receive buffer, when the one it reads into
/// has no room left for the next frame.
const READ_SIZE: usize = 8 * 1024;

// ANCHOR: message_ref
/// A handle to a message in a [`MessageArena`]: the slot it is in (`index`)
/// and which of that slot's messages it is (`generation`). 8 bytes, `Copy`
/// and `'static`: keep it across any `.await`, send it to another task, use
/// it as a map key.
///
/// A generation is never 0, so rustc stores `Option<MessageRef>`'s `None` in
/// that impossible value and the option is 8 bytes too (the checks assert
/// it: the language promises this niche for `Option<NonZeroU32>` itself, and
/// rustc carries it to a struct that holds one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageRef {
    index: u32,
    generation: NonZeroU32,
}
// ANCHOR_END: message_ref

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

// ANCHOR: arena
/// Messages in slots, named by [`MessageRef`]s.
///
/// A freed slot is reused before the arena grows, so the arena holds as
/// many slots as the most messages it ever held at once. Each slot counts
/// its generation: freeing a message bumps it, and a ref whose generation is
/// not its slot's is stale and refused. A slot whose generation would pass
/// the limit is retired instead of wrapping around to 1: a wrapped
/// generation would hand out a ref that was handed out before, and an old
/// copy of it would name the new message.
#[derive(Debug)]
pub struct MessageArena {
    slots: Vec<Slot>,
    /// Indexes of the free slots. The last one freed is reused first: its
    /// memory is the likeliest to be in cache.
    free: Vec<u32>,
    /// How many slots hold a message.
    len: usize,
    /// The highest generation a slot may reach before it is retired.
    generation_limit: u32,
}

#[derive(Debug)]
struct Slot {
    /// The generation of the message in the slot; of an empty slot, the
    /// generation its next message gets, which no ref has yet. A retired
    /// slot keeps its last one, and no message.
    generation: NonZeroU32,
    message: Option<Message>,
}

#[derive(Debug)]
struct Message {
    bytes: Bytes,
    holders: NonZeroU32,
}
// ANCHOR_END: arena

impl Default for MessageArena {
    fn default() -> Self {
        MessageArena::new()
    }
}

impl MessageArena {
    /// An empty arena, whose slots are retired after 2^32 - 1 messages each.
    pub fn new() -> Self {
        MessageArena::with_generation_limit(u32::MAX)
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
        assert!(limit > 0, "generations start at 1, so the limit must too");
        MessageArena {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            generation_limit: limit,
        }
    }

    // The hot methods are `#[inline]`: across crates a non-generic function
    // is otherwise never inlined, and a call per lookup costs more than the
    // lookup (slotmap's are generic, so they inline anyway).

    // ANCHOR: insert
    /// Stores `bytes` (the handle, not a copy of the payload) with one
    /// holder, the caller, and names it.
    #[inline]
    pub fn insert(&mut self, bytes: Bytes) -> MessageRef {
        let message = Some(Message {
            bytes,
            holders: NonZeroU32::MIN,
        });
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.message = message;
            return MessageRef {
                index,
                generation: slot.generation,
            };
        }
        let index = u32::try_from(self.slots.len()).expect("an arena holds at most 2^32 slots");
        let generation = NonZeroU32::MIN;
        self.slots.push(Slot {
            generation,
            message,
        });
        MessageRef { index, generation }
    }

    /// The message `msg` names, or `None` if it was freed: a stale ref never
    /// reads the message that took its slot.
    #[inline]
    pub fn get(&self, msg: MessageRef) -> Option<&Bytes> {
        let slot = self.slots.get(msg.index as usize)?;
        if slot.generation != msg.generation {
            return None;
        }
        slot.message.as_ref().map(|message| &message.bytes)
    }
    // ANCHOR_END: insert

    // ANCHOR: release
    /// Adds a holder to `msg`'s message; `false` if `msg` is stale.
    #[inline]
    pub fn hold(&mut self, msg: MessageRef) -> bool {
        let Some(message) = self.message_mut(msg) else {
            return false;
        };
        message.holders = message
            .holders
            .checked_add(1)
            .expect("fewer than 2^32 holders");
        true
    }

    /// Takes a holder off `msg`'s message, and frees it if that was the last.
    #[inline]
    pub fn release(&mut self, msg: MessageRef) -> Release {
        let Some(message) = self.message_mut(msg) else {
            return Release::Stale;
        };
        match NonZeroU32::new(message.holders.get() - 1) {
            Some(fewer) => {
                message.holders = fewer;
                Release::Held(fewer.get())
            }
            None => Release::Freed(self.free(msg.index)),
        }
    }

    /// The message `msg` names, if it is live.
    #[inline]
    fn message_mut(&mut self, msg: MessageRef) -> Option<&mut Message> {
        let slot = self.slots.get_mut(msg.index as usize)?;
        if slot.generation != msg.generation {
            return None;
        }
        slot.message.as_mut()
    }

    /// Empties the slot at `index`, whoever still holds its message, and
    /// returns the message. Every ref to it is stale from now on: the slot's
    /// next generation is one more, or the slot is retired.
    #[inline]
    fn free(&mut self, index: u32) -> Bytes {
        let slot = &mut self.slots[index as usize];
        let message = slot.message.take().expect("only a live slot is freed");
        let next = slot
            .generation
            .checked_add(1)
            .filter(|next| next.get() <= self.generation_limit);
        if let Some(next) = next {
            slot.generation = next;
            self.free.push(index);
        }
        self.len -= 1;
        message.bytes
    }
    // ANCHOR_END: release

    // ANCHOR: retain
    /// Frees every message for which `keep` returns `false`, whoever holds
    /// it. Their refs are stale from now on, as after a last release.
    pub fn retain(&mut self, mut keep: impl FnMut(MessageRef, &Bytes) -> bool) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            let Some(message) = &slot.message else {
                continue;
            };
            let index = index as u32;
            let msg = MessageRef {
                index,
                generation: slot.generation,
            };
            if !keep(msg, &message.bytes) {
                self.free(index);
            }
        }
    }

    /// Frees every message. Every ref handed out so far is stale; the slots
    /// stay, for the messages to come.
    pub fn clear(&mut self) {
        self.retain(|_, _| false);
    }
    // ANCHOR_END: retain

    /// How many messages are live.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many slots exist: live, free or retired. The arena never shrinks,
    /// and grows only when no slot is free.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }
}

// ANCHOR: plugin
/// A plugin. Its handler may hold the frame for as long as it runs, across
/// any number of `.await`s, while the loop reads on.
pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()>;
}
// ANCHOR_END: plugin

/// Reads frames from a connection and hands each one to every plugin.
pub struct EventLoop {
    plugins: Vec<Arc<dyn Plugin>>,
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

    // ANCHOR: run
    /// Reads frames (a 4-byte big-endian length, then that many bytes) until
    /// the input ends, hands each to every plugin, and returns how many it
    /// read once every handler has finished. A read error, or an input that
    /// ends inside a frame, is returned once the handlers of the frames
    /// before it have finished.
    pub async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> io::Result<u64> {
        // Each handler future owns a handle of its frame and returns the
        // frame's ref when it is done: it borrows nothing of the loop.
        let mut handlers = FuturesUnordered::new();
        // A `run` that was dropped midway dropped its handlers with it: the
        // frames they held have no holder left to release them. Free them,
        // or the back pressure below would wait for handlers that are gone.
        self.arena.clear();
        let mut frames = 0;
        // The connection's receive buffer, reused for every frame: each one
        // is cut off its front.
        let mut buf = BytesMut::new();
        let result = loop {
            // Back pressure: no new frame until one of the held ones is done.
            while self.arena.len() >= self.max_in_flight {
                let done = handlers.next().await.expect("a held frame has a handler");
                self.arena.release(done);
            }
            // Read the next frame while the handlers of earlier ones run. The
            // read future lives across the loop, so a finished handler never
            // cancels a read halfway through.
            let read = {
                let mut read = pin!(read_frame(&mut reader, &mut buf));
                loop {
                    tokio::select! {
                        biased;
                        Some(done) = handlers.next() => {
                            self.arena.release(done);
                        }
                        read = &mut read => break read,
                    }
                }
            };
            let frame = match read {
                Ok(Some(frame)) => frame,
                Ok(None) => break Ok(frames),
                Err(error) => break Err(error),
            };
            frames += 1;
            // The loop holds the frame while it hands it out, then lets go:
            // with no plugin at all, that frees it at once.
            let msg = self.arena.insert(frame);
            for plugin in &self.plugins {
                self.arena.hold(msg);
                let plugin = Arc::clone(plugin);
                // A reference count, not a copy of the payload.
                let frame = self.arena.get(msg).expect("the loop holds it").clone();
                handlers.push(async move {
                    plugin.handle(&frame).await;
                    msg
                });
            }
            self.arena.release(msg);
        };
        // Every frame read is handled to the end, even after a read error.
        while let Some(done) = handlers.next().await {
            self.arena.release(done);
        }
        result
    }
    // ANCHOR_END: run
}

// ANCHOR: read_frame
/// Reads one frame from `reader` through `buf`, the connection's receive
/// buffer, and cuts it off the front of `buf`: a `Bytes` view of the very
/// memory the reader wrote it to, no copy. `None` if the input ends before a
/// frame starts.
///
/// `buf` is reused from frame to frame. While plugins hold earlier frames,
/// their views keep the memory behind them alive, so `buf` cannot take it
/// back; it asks for a new chunk of [`READ_SIZE`] only when the frame it
/// reads does not fit in the room it has left. Many frames share one
/// allocation, freed when the last view of it is dropped.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> io::Result<Option<Bytes>> {
    loop {
        // What the frame at the front of `buf` still needs to be whole.
        let needed = match buf.get(..HEADER_LEN) {
            Some(header) => {
                let len = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
                if len > MAX_FRAME_LEN {
                    let message = format!("a frame of {len} bytes is longer than {MAX_FRAME_LEN}");
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                }
                if buf.len() >= HEADER_LEN + len {
                    buf.advance(HEADER_LEN);
                    return Ok(Some(buf.split_to(len).freeze()));
                }
                HEADER_LEN + len - buf.len()
            }
            None => HEADER_LEN - buf.len(),
        };
        if buf.capacity() - buf.len() < needed {
            // A new chunk, with the partial frame moved into it: room for
            // all of this frame, and for many small ones after it.
            buf.reserve(needed.max(READ_SIZE));
        }
        // Straight into `buf`'s spare room, where the frame will stay.
        if reader.read_buf(buf).await? == 0 {
            return match buf.is_empty() {
                true => Ok(None),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
    }
}
// ANCHOR_END: read_frame
