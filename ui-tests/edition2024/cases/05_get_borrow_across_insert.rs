// Lesson 05. An arena does not repeal the borrow rules. `get` lends out a
// `&Bytes` from inside the arena, and handlers that keep it across their
// `.await`s keep the arena borrowed: the loop cannot `insert` the next
// frame (E0502 again, on the arena instead of the buffer). What may cross
// an `.await` is the ref (`Copy`, 8 bytes) or a clone of the `Bytes` (a
// reference count), never the borrow.

// ANCHOR: case
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()>;
}

#[derive(Clone, Copy)]
pub struct MessageRef {
    index: u32,
    generation: u32,
}

pub struct MessageArena {
    slots: Vec<(u32, Option<Bytes>)>,
}

impl MessageArena {
    pub fn insert(&mut self, bytes: Bytes) -> MessageRef {
        self.slots.push((1, Some(bytes)));
        MessageRef {
            index: self.slots.len() as u32 - 1,
            generation: 1,
        }
    }

    pub fn get(&self, msg: MessageRef) -> Option<&Bytes> {
        match self.slots.get(msg.index as usize)? {
            (generation, bytes) if *generation == msg.generation => bytes.as_ref(),
            _ => None,
        }
    }
}

/// The next frame, in memory of its own; `None` at the end of the input.
async fn read_frame() -> Option<Bytes> {
    None
}

pub async fn run(plugins: &[Arc<dyn Plugin>], arena: &mut MessageArena) {
    let mut handlers = FuturesUnordered::new();
    while let Some(frame) = read_frame().await {
        let msg = arena.insert(frame);
        let frame = arena.get(msg).expect("just inserted");
        for plugin in plugins {
            handlers.push(plugin.handle(frame));
        }
        while handlers.len() > 8 {
            handlers.next().await;
        }
    }
    while handlers.next().await.is_some() {}
}
// ANCHOR_END: case

fn main() {}
