// Lesson 06. The seed text's `PluginActor` with its future awaited: the
// closure returns the handler's future, and `run` awaits it once
// `with_message` is done. But `with_message` lends the message only for
// the closure's call, and the future holds on to it: "lifetime may not
// live long enough", no error code. A closure that lends a borrow cannot
// lend it to async code that runs after the closure returns.
use std::future::Future;

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
    fn handle(&self, msg: BorrowedMessage<'_>) -> impl Future<Output = ()> + Send;
}

pub struct PluginActor<M: MessageHandler> {
    plugin: M,
    queue: Receiver<MessageRef>,
    arena: MessageArena,
}

impl<M: MessageHandler> PluginActor<M> {
    pub async fn run(&mut self) {
        while let Some(msg) = self.queue.recv().await {
            let handling = self
                .arena
                .with_message(msg, |msg_ref| self.plugin.handle(msg_ref));
            if let Some(handling) = handling {
                handling.await;
            }
        }
    }
}

fn main() {}
