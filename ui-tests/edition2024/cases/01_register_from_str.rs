// Lesson 01. The same registry, with the name borrowed from the caller. The
// `&str` parameter has some lifetime chosen by the caller, and registering a
// DTO that holds it would need that lifetime to be `'static`: E0521.
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

pub fn register_user(context: &mut Context, name: &str) {
    context.insert(UserDto { name });
}

fn main() {}
