//! `cargo run -- mutants`: cargo-mutants (<https://mutants.rs>) over the
//! reference solutions. Each mutant is a small change of a solution (a `<`
//! made `<=`, a function body replaced by a default, a match arm deleted);
//! the lesson's checks must fail for every one of them, or the mutant is
//! excluded in `.cargo/mutants.toml` with the reason it is equivalent.
//! `fixes.toml` holds the wrong fixes a learner would write; the mutants
//! are the ones nobody thought of.
//!
//! It works on a scratch copy of the committed workspace with a target
//! directory of its own (cargo-mutants edits the files it mutates), or, with
//! `--in-place`, on the workspace itself: for CI's throwaway clone, whose
//! target directory is warm from `cargo test`.
//!
//! A clean run can be recorded (`--record`) in `.cargo/mutants-record.toml`
//! with the figures and a fingerprint of what the outcome depends on (the
//! solution, the solutions it builds on, the lesson's checks, `support/`,
//! the exclusions); `--changed` runs only the lessons whose fingerprint is
//! not the recorded one. The README's figures come from that file.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::lessons::Lesson;
use crate::verify::Source;
use crate::workspace;

/// The cargo-mutants this course is measured with.
pub const MUTANTS_VERSION: &str = "27.1.0";

const RECORD: &str = ".cargo/mutants-record.toml";

pub struct Options {
    pub in_place: bool,
    pub changed_only: bool,
    pub record: bool,
    pub source: Source,
}

/// What cargo-mutants said of one solution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub tested: u64,
    pub caught: u64,
    pub missed: u64,
    pub unviable: u64,
    pub timeouts: u64,
}

impl Figures {
    /// Reads cargo-mutants' closing line, e.g. "44 mutants tested in 61s: 6
    /// missed, 29 caught, 8 unviable, 1 timeouts" (a figure that is 0 is
    /// left out).
    pub fn parse(line: &str) -> Option<Figures> {
        let (head, tail) = line.split_once(" mutants tested in ")?;
        let tested = head.trim().parse().ok()?;
        let (_, counts) = tail.split_once(": ").unwrap_or((tail, ""));
        let mut figures = Figures {
            tested,
            ..Figures::default()
        };
        for part in counts.split(", ") {
            let Some((n, what)) = part.trim().split_once(' ') else {
                continue;
            };
            let Ok(n) = n.parse() else { continue };
            match what {
                "missed" => figures.missed = n,
                "caught" => figures.caught = n,
                "unviable" => figures.unviable = n,
                "timeouts" | "timeout" => figures.timeouts = n,
                _ => {}
            }
        }
        Some(figures)
    }
}

pub fn run(root: &Path, target_dir: &Path, lessons: &[&Lesson], options: Options) -> Result<bool> {
    let version = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .ok()
        .filter(|output| output.status.success());
    let Some(version) = version else {
        bail!(
            "cargo-mutants is not installed: `cargo install cargo-mutants --locked --version {MUTANTS_VERSION}`"
        );
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if !version.ends_with(MUTANTS_VERSION) {
        println!("note: {version}; the figures in the README are from {MUTANTS_VERSION}");
    }

    let mut record = read_record(root)?;
    let (work, mutants_target) = if options.in_place {
        (root.to_path_buf(), None)
    } else {
        let scratch = target_dir.join("coach").join("mutants");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).context("cannot clear the mutants scratch copy")?;
        }
        match options.source {
            Source::Head => workspace::export_from_head(root, &[Path::new(".")], &scratch)
                .context("use `mutants --working-tree` to mutate the files on disk")?,
            Source::WorkingTree => workspace::copy_workspace(root, &scratch)?,
        }
        (
            scratch,
            Some(target_dir.join("coach").join("mutants-target")),
        )
    };
    let logs = target_dir.join("coach").join("mutants-out");

    let mut sound = true;
    let mut table = Vec::new();
    for lesson in lessons {
        let name = format!("{}-{}", lesson.number, lesson.slug);
        let fingerprint = fingerprint(&work, lesson)?;
        let recorded = record
            .get(&name)
            .and_then(|entry| entry.get("fingerprint"))
            .and_then(|value| value.as_str())
            .map(str::to_owned);
        if options.changed_only {
            match recorded.as_deref() {
                Some(recorded) if recorded == fingerprint => {
                    println!("  {name}: unchanged since its recorded clean run");
                    continue;
                }
                Some(_) => {}
                // A lesson that never had a clean run is not held to one
                // here; the README lists which lessons have.
                None => {
                    println!(
                        "  {name}: no clean run recorded yet (`cargo run -- mutants {}` \
                         lists what its checks miss)",
                        lesson.number
                    );
                    continue;
                }
            }
        }
        println!("  {name}: cargo mutants -p solution-{name}");
        let figures = mutate(&work, mutants_target.as_deref(), &logs.join(&name), lesson)?;
        let ok = figures.missed == 0 && figures.timeouts == 0 && figures.tested > 0;
        println!(
            "      {}: {} mutants, {} caught, {} unviable, {} missed, {} timeouts",
            if ok { "ok" } else { "FAIL" },
            figures.tested,
            figures.caught,
            figures.unviable,
            figures.missed,
            figures.timeouts
        );
        if figures.missed > 0 {
            println!(
                "      each missed mutant needs a check that fails it, or an exclusion \
                 with its reason in .cargo/mutants.toml (logs: {})",
                logs.join(&name).display()
            );
        }
        if figures.timeouts > 0 {
            println!(
                "      a timeout is a check that hung on a mutant instead of failing: \
                 bound it (a limit on items, a real-time guard)"
            );
        }
        sound &= ok;
        if ok && options.record {
            let mut entry = toml_edit::Table::new();
            entry["fingerprint"] = toml_edit::value(fingerprint.as_str());
            entry["mutants"] = toml_edit::value(figures.tested as i64);
            entry["caught"] = toml_edit::value(figures.caught as i64);
            entry["unviable"] = toml_edit::value(figures.unviable as i64);
            entry["missed"] = toml_edit::value(figures.missed as i64);
            entry["timeouts"] = toml_edit::value(figures.timeouts as i64);
            record.insert(&name, toml_edit::Item::Table(entry));
        }
        table.push((name, figures, ok));
    }
    if options.record {
        // The header is written anew below: drop the one the file had (it
        // is the decor of the first table), and set each table apart.
        for (_, item) in record.iter_mut() {
            if let Some(table) = item.as_table_mut() {
                table.decor_mut().set_prefix("\n");
            }
        }
        let path = root.join(RECORD);
        let text = format!(
            "# Written by `cargo run -- mutants --record` (cargo-mutants {MUTANTS_VERSION}) after a\n\
             # run in which the lesson's checks caught every mutant of its solution\n\
             # that .cargo/mutants.toml does not exclude. `fingerprint` covers what\n\
             # that depends on; `mutants --changed` (CI) runs the lessons whose\n\
             # files no longer have it.\n{record}"
        );
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("recorded in {RECORD}");
    }
    if !table.is_empty() {
        println!("\n| lesson | mutants | caught | unviable | missed | timeouts |");
        println!("|---|---|---|---|---|---|");
        for (name, f, _) in &table {
            println!(
                "| {name} | {} | {} | {} | {} | {} |",
                f.tested, f.caught, f.unviable, f.missed, f.timeouts
            );
        }
    }
    Ok(sound)
}

/// Runs cargo-mutants over one solution and reads its figures.
fn mutate(work: &Path, target: Option<&Path>, logs: &Path, lesson: &Lesson) -> Result<Figures> {
    if logs.exists() {
        std::fs::remove_dir_all(logs)?;
    }
    std::fs::create_dir_all(logs)?;
    let mut command = Command::new("cargo");
    command
        .current_dir(work)
        .args(["mutants", "--in-place", "--no-shuffle", "--colors", "never"])
        // cargo-mutants times a mutant's tests out at five times the
        // baseline's, and at least 20 s. A mutant the checks catch only
        // through their watchdog (05's `read_frame` that makes frames for
        // ever: several checks each stopped after seconds) takes 18-20 s on a
        // busy machine: a timeout there is the machine, not a hang.
        .args(["--minimum-test-timeout", "60"])
        .arg("-p")
        .arg(format!("solution-{}-{}", lesson.number, lesson.slug))
        .arg("-o")
        .arg(logs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if let Some(target) = target {
        command.env("CARGO_TARGET_DIR", target);
    }
    let mut child = command.spawn().context("cannot run cargo mutants")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut figures = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line.starts_with("MISSED") || line.starts_with("TIMEOUT") || line.contains("FAILED") {
            println!("      {line}");
        }
        if let Some(parsed) = Figures::parse(&line) {
            figures = Some(parsed);
        }
    }
    let status = child.wait()?;
    match figures {
        Some(figures) => Ok(figures),
        None => bail!(
            "cargo mutants ended ({status}) without its summary: did the unmutated \
             checks fail? See {}",
            logs.display()
        ),
    }
}

/// What a lesson's mutation outcome depends on: its solution and the
/// solutions that solution builds on, the lesson's checks, `support/`, and
/// the exclusions.
fn fingerprint(work: &Path, lesson: &Lesson) -> Result<String> {
    let mut paths: Vec<PathBuf> = vec![
        lesson.solution_dir().join("src"),
        lesson.dir.join("tests"),
        PathBuf::from("support/src"),
        PathBuf::from(".cargo/mutants.toml"),
    ];
    let manifest = std::fs::read_to_string(work.join(lesson.solution_dir()).join("Cargo.toml"))
        .unwrap_or_default();
    for line in manifest.lines() {
        // `solution-04-pinned-decoder.workspace = true`: an earlier layer.
        if let Some(dependency) = line.trim().strip_prefix("solution-")
            && let Some((name, _)) = dependency.split_once('.')
        {
            paths.push(Path::new("solutions").join(name).join("src"));
        }
    }
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    workspace::stable_hash(work, &paths)
}

fn read_record(root: &Path) -> Result<toml_edit::DocumentMut> {
    let path = root.join(RECORD);
    match std::fs::read_to_string(&path) {
        Err(_) => Ok(toml_edit::DocumentMut::new()),
        Ok(text) => text
            .parse()
            .with_context(|| format!("{} is not valid TOML: fix or delete it", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_line_is_read_with_or_without_each_figure() {
        assert_eq!(
            Figures::parse("44 mutants tested in 61s: 6 missed, 29 caught, 8 unviable, 1 timeouts"),
            Some(Figures {
                tested: 44,
                caught: 29,
                missed: 6,
                unviable: 8,
                timeouts: 1
            })
        );
        assert_eq!(
            Figures::parse("23 mutants tested in 2m 3s: 20 caught, 3 unviable"),
            Some(Figures {
                tested: 23,
                caught: 20,
                unviable: 3,
                ..Figures::default()
            })
        );
        assert_eq!(Figures::parse("MISSED   src/lib.rs:1:1: replace"), None);
    }
}
