// Lesson 05. The seed text's `MessageArena` again, with its parameter
// renamed from `ref` to `msg`. Now rustc reads `get`, and finds that it asks
// the buffer for the generation: a `Vec<u8>` has no generation, so
// `.get(msg.generation)` asks for the byte at that index, and a `u64` is no
// slice index (E0277). The generation has to live in the arena's slot,
// beside the bytes, where `alloc` can set it and a free can bump it.
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
    pub fn get(&self, msg: MessageRef) -> Option<&[u8]> {
        // Secured through indexing
        self.buffers.get(msg.index)?.get(msg.generation)
    }

    // Return an index, not a reference
    fn alloc(&mut self, data: &[u8]) -> MessageRef {
        let idx = self.buffers.len();
        self.buffers.push(Arc::new(data.to_vec()));
        MessageRef { index: idx, generation: 0 }
    }
}

fn main() {}
