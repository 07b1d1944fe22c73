// Lesson 01. A GraphQL-style context registry, shaped like async-graphql's
// `data<D: Any + Send + Sync>`. `Any` is only implemented for `'static`
// types, so a DTO borrowing a local `String` cannot be registered. rustc
// reports E0597 and points at the `Any` bound, not at a `'static`.

// ANCHOR: case
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

pub struct UserDto<'a> {
    pub name: &'a str,
}

pub fn build_context() -> Context {
    let name = String::from("ada");
    let mut context = Context::default();
    context.insert(UserDto { name: &name });
    context
}
// ANCHOR_END: case

fn main() {}
