// Lesson 01. A generic installer that forwards any `T: Send + Sync` to the
// registry. `Any` needs `T: 'static`, and the signature does not promise it:
// E0310.
use std::any::{Any, TypeId};
use std::collections::HashMap;

#[derive(Default)]
pub struct Context {
    data: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Context {
    pub fn insert<D: Any + Send + Sync>(&mut self, value: D) {
        self.data.insert(TypeId::of::<D>(), Box::new(value));
    }
}

pub fn install<T: Send + Sync>(context: &mut Context, value: T) {
    context.insert(value);
}

fn main() {}
