//! `cargo run -- loop-time`: how long a learner waits between saving a
//! lesson and seeing its verdict, for every lesson, once with the starter
//! (a compile error, or failing checks) and once solved. For maintainers:
//! it keeps the loop fast as the course grows.
//!
//! It works on a scratch copy of the committed lessons (with
//! `--working-tree`, of the lessons on disk: a change can be timed before
//! it is committed), with a target directory of its own, so a learner's
//! files and builds are never touched.
//! Each lesson is built once to warm the cache; then each "save" rewrites
//! `src/lib.rs` with the same bytes (a new modification time, so cargo
//! rebuilds exactly what an editor's save makes it rebuild), and the time
//! to the verdict is taken five times. The median is printed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::checks::{self, Outcome};
use crate::lessons::Lesson;
use crate::verify::Source;
use crate::workspace;

const RUNS: usize = 5;

pub fn run(root: &Path, target_dir: &Path, lessons: &[&Lesson], source: Source) -> Result<bool> {
    let scratch = target_dir.join("coach").join("loop");
    let loop_target = target_dir.join("coach").join("loop-target");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).context("cannot clear the scratch workspace")?;
    }
    std::fs::create_dir_all(scratch.join("lessons"))?;
    workspace::write_scratch_workspace(root, &scratch)?;
    match source {
        Source::Head => {
            let dirs: Vec<&Path> = lessons.iter().map(|lesson| lesson.dir.as_path()).collect();
            workspace::export_from_head(root, &dirs, &scratch)?;
        }
        Source::WorkingTree => {
            for lesson in lessons {
                workspace::replace_dir(&root.join(&lesson.dir), &scratch.join(&lesson.dir))?;
            }
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("save -> verdict, warm, median of {RUNS} runs, on {cores} cores");
    println!();
    println!("| lesson | starter | solved |");
    println!("|---|---|---|");
    let mut fast = true;
    for lesson in lessons {
        let lib = scratch.join(&lesson.dir).join("src/lib.rs");
        let starter = std::fs::read(&lib)?;
        let broken = median(&scratch, &loop_target, lesson, &lib, &starter, false)?;

        // The whole solution's src/ (lesson 11's is five files), as verify
        // puts it in the starter's place; then each save rewrites lib.rs.
        let src = scratch.join(&lesson.dir).join("src");
        let starter_src = scratch.join("starter-src");
        workspace::replace_dir(&src, &starter_src)?;
        let solution_src = root.join(lesson.solution_dir()).join("src");
        workspace::replace_dir(&solution_src, &src)
            .with_context(|| format!("{} has no solution", lesson.folder()))?;
        let solution = std::fs::read(&lib)?;
        let solved = median(&scratch, &loop_target, lesson, &lib, &solution, true)?;
        workspace::replace_dir(&starter_src, &src)?;

        fast &= solved <= Duration::from_millis(700);
        println!(
            "| {}-{} | {:.2} s | {:.2} s |",
            lesson.number,
            lesson.slug,
            broken.as_secs_f64(),
            solved.as_secs_f64()
        );
    }
    println!();
    println!(
        "{}",
        if fast {
            "every solved verdict is within the 0.7 s target"
        } else {
            "some solved verdict is over the 0.7 s target"
        }
    );
    Ok(true)
}

/// The median time from writing `source` into `lib` to the verdict, after
/// one warm-up build. `solved` says which verdict is expected.
fn median(
    scratch: &Path,
    target: &Path,
    lesson: &Lesson,
    lib: &Path,
    source: &[u8],
    solved: bool,
) -> Result<Duration> {
    std::fs::write(lib, source)?;
    checks::run(scratch, target, &lesson.package)?; // warm the cache
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        // A save: same bytes, new modification time.
        std::fs::write(lib, source)?;
        let started = Instant::now();
        let outcome = checks::run(scratch, target, &lesson.package)?;
        times.push(started.elapsed());
        let expected = matches!(outcome, Outcome::Done { .. }) == solved;
        if !expected {
            bail!(
                "{}: expected the {} to {}, but it {}",
                lesson.folder(),
                if solved { "solution" } else { "starter" },
                if solved { "pass" } else { "fail" },
                outcome.summary()
            );
        }
    }
    times.sort();
    Ok(times[RUNS / 2])
}
