//! Lesson 09's checks, run against the reference solution. They are written
//! once, in lessons/09-graphql-dto/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_09_graphql_dto as lesson;

#[path = "../../../lessons/09-graphql-dto/tests/checks/mod.rs"]
mod checks;
