// Lesson 06. The seed text's `PluginActor` as real code writes it: the
// closure calls a method of the actor (`self.deliver`, which counts the
// delivery, then calls the handler) instead of touching one field. The
// method needs all of `self`, so the closure borrows `*self` whole,
// `self.arena` included, while `with_message` holds `self.arena`
// mutably: E0502.

// ANCHOR: case
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
    fn handle(&self, msg: BorrowedMessage<'_>);
}

pub struct PluginActor<M: MessageHandler> {
    plugin: M,
    queue: Receiver<MessageRef>,
    arena: MessageArena,
    delivered: std::cell::Cell<u64>,
}

impl<M: MessageHandler> PluginActor<M> {
    fn deliver(&self, msg: BorrowedMessage<'_>) {
        self.delivered.set(self.delivered.get() + 1);
        self.plugin.handle(msg);
    }

    pub async fn run(&mut self) {
        while let Some(msg) = self.queue.recv().await {
            self.arena.with_message(msg, |msg_ref| self.deliver(msg_ref));
        }
    }
}
// ANCHOR_END: case

fn main() {}
