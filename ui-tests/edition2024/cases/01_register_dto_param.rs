// Lesson 01. The DTO arrives as a parameter. It is a struct, not a
// reference, yet it carries the lifetime `'a`; registering it needs
// `'a: 'static`. rustc's E0521 calls `dto` "a reference" for that reason.
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

pub fn register_user<'a>(context: &mut Context, dto: UserDto<'a>) {
    context.insert(dto);
}

fn main() {}
