// Lesson 06. No `dyn` at all: one task per plugin, spawned by a function
// generic over the plugin's type, which owns the plugin and reads a
// mailbox. The trait keeps its `async fn`. But `tokio::spawn` needs a
// `Send` future, and an `async fn` in a trait promises nothing about its
// future's auto traits: "future cannot be sent between threads safely",
// with no error code. rustc's help is the fix.

// ANCHOR: case
use bytes::Bytes;
use tokio::sync::mpsc;

pub struct Message {
    pub seq: u64,
    pub payload: Bytes,
}

pub trait Plugin: Send + 'static {
    async fn handle(&mut self, msg: Message);
}

async fn run_actor<P: Plugin>(mut plugin: P, mut mailbox: mpsc::Receiver<Message>) {
    while let Some(msg) = mailbox.recv().await {
        plugin.handle(msg).await;
    }
}

pub fn plug<P: Plugin>(plugin: P) -> mpsc::Sender<Message> {
    let (mailbox, letters) = mpsc::channel(64);
    tokio::spawn(run_actor(plugin, letters));
    mailbox
}
// ANCHOR_END: case

fn main() {}
