// Lesson 06. The seed text's `PluginActor`, as written, with the arena's
// `with_message` spelled out (it takes `&mut self`: it counts reads). The
// closure borrows `self.plugin` while `with_message` borrows `self.arena`
// mutably, and that compiles: since edition 2021 a closure captures the
// fields it uses, not the whole of `self`. What is wrong is quieter:
// `handle` is an `async fn`, the closure drops its future without awaiting
// it, and the handler never runs. rustc only warns (`unused_must_use`);
// this case denies the lint, so the warning is the one diagnostic, and no
// borrow error comes with it.

// ANCHOR: case
#![deny(unused_must_use)]

use tokio::sync::mpsc::Receiver;

pub struct BorrowedMessage<'a> {
    pub raw: &'a [u8],
}

#[derive(Clone, Copy)]
pub struct MessageRef {
    index: usize,
    generation: u64,
}

pub struct MessageArena {
    buffers: Vec<(u64, Vec<u8>)>,
    reads: u64,
}

impl MessageArena {
    pub fn with_message<R>(
        &mut self,
        msg: MessageRef,
        f: impl FnOnce(BorrowedMessage<'_>) -> R,
    ) -> Option<R> {
        self.reads += 1;
        let (generation, raw) = self.buffers.get(msg.index)?;
        (*generation == msg.generation).then(|| f(BorrowedMessage { raw }))
    }
}

pub trait MessageHandler {
    async fn handle(&self, msg: BorrowedMessage<'_>);
}

pub struct PluginActor<M: MessageHandler> {
    plugin: M,
    queue: Receiver<MessageRef>,
    arena: MessageArena,
}

impl<M: MessageHandler> PluginActor<M> {
    pub async fn run(&mut self) {
        while let Some(msg) = self.queue.recv().await {
            self.arena.with_message(msg, |msg_ref| {
                self.plugin.handle(msg_ref);
            });
        }
    }
}
// ANCHOR_END: case

fn main() {}
