// Lesson 06. The seed text's plugin trait, with `async fn handle`, kept as
// `Box<dyn Plugin>` so that plugins of different types can sit in one list:
// E0038, `Plugin` is not dyn compatible, because `handle` is `async`. Each
// implementation's `async fn` returns a future of its own type, and a
// vtable needs one signature for all of them.

// ANCHOR: case
pub struct BorrowedMessage<'a> {
    pub raw: &'a [u8],
}

pub struct HandlerError(pub String);

pub trait Plugin: Send + Sync {
    async fn handle(&self, msg: BorrowedMessage<'_>) -> Result<(), HandlerError>;
}

pub struct Dispatcher {
    pub plugins: Vec<Box<dyn Plugin>>,
}
// ANCHOR_END: case

fn main() {}
