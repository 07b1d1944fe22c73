// Lesson 05. The seed text's `MessageArena`, its two fragments put together
// as written; only `Buffer` is spelled out, as what `alloc` stores in it.
// rustc stops at the first bug: a parameter named `ref`, a keyword, so
// neither the parameter nor its uses parse. Three more are no compile error
// at all: `alloc` makes every generation 0 and nothing ever bumps one,
// `free_list` is never used, and `data.to_vec()` copies every message that
// the `Arc` was there to share.

// ANCHOR: case
use std::sync::Arc;

type Buffer = Vec<u8>;

pub struct MessageRef {
    index: usize,
    generation: u64,
}

struct MessageArena {
    buffers: Vec<Arc<Buffer>>,
    free_list: Vec<usize>,
}

impl MessageArena {
    pub fn get(&self, ref: MessageRef) -> Option<&[u8]> {
        // Secured through indexing
        self.buffers.get(ref.index)?.get(ref.generation)
    }

    // Return an index, not a reference
    fn alloc(&mut self, data: &[u8]) -> MessageRef {
        let idx = self.buffers.len();
        self.buffers.push(Arc::new(data.to_vec()));
        MessageRef { index: idx, generation: 0 }
    }
}
// ANCHOR_END: case

fn main() {}
