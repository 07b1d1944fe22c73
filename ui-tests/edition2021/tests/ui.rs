//! Every case must fail to compile, with exactly the diagnostic in its
//! `.stderr` file. Bless new output with `TRYBUILD=overwrite cargo test -p
//! ui-tests-2021`, then read the diff before committing.
//!
//! Only `compile_fail`: a single `pass` case would make trybuild build every
//! case fully instead of checking it. Compiling code is proven by solutions/.

#[test]
fn diagnostics_edition_2021() {
    let t = trybuild::TestCases::new();
    t.compile_fail("cases/*.rs");
}
