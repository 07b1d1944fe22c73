//! The coach: `cargo run` at the root of the workspace.
//!
//! It shows where a learner stands (derived from the code: a lesson is done
//! when its checks pass), checks one lesson, hands out hints, resets a lesson
//! without losing work, and, for maintainers, verifies that every starter
//! fails as documented and every solution passes.

mod checks;
mod explain;
mod fixes;
mod lessons;
mod looptime;
mod mutants;
mod progress;
mod toolchain;
mod verify;
mod workspace;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// Colour where a person is reading: anstream drops the escape codes when
// the output is piped, when NO_COLOR is set, or with `--color never`.
use anstream::{eprint, eprintln, print, println};
use anstyle::{AnsiColor, Style};
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::checks::Outcome;
use crate::lessons::Lesson;
use crate::progress::Progress;

#[derive(Parser)]
#[command(
    name = "coach",
    about = "Your guide through async-patterns. Without a command: where you are and what is next."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Colour in the output: auto (a terminal, unless NO_COLOR is set),
    /// always, or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default();

#[derive(Subcommand)]
enum Command {
    /// Every lesson and its state, and what to do next (the default).
    Status,
    /// Run one lesson's checks and show what fails, e.g. `check 01`.
    Check { lesson: String },
    /// Re-check a lesson every time you save; moves on when it is done.
    /// Without a lesson: the first one not done.
    Watch { lesson: Option<String> },
    /// Show a lesson's hints one at a time: `hint 01`, then `hint 01 2`...
    Hint {
        lesson: String,
        /// Which hint (from 1).
        #[arg(default_value_t = 1)]
        number: usize,
        /// Show every hint at once.
        #[arg(long)]
        all: bool,
    },
    /// Where the course covers an error: `explain E0597`, or words of an
    /// error without a code.
    Explain {
        #[arg(required = true)]
        error: Vec<String>,
    },
    /// Put a lesson back as it was committed; your version is backed up
    /// first. `reset --undo NN` brings your last version back.
    Reset {
        lesson: Option<String>,
        /// Bring back the newest backup of the lesson (what it replaces is
        /// backed up too, so an undo can be undone).
        #[arg(long)]
        undo: bool,
        /// Every lesson you have changed (asks first).
        #[arg(long, conflicts_with = "undo")]
        all: bool,
        /// With --all: do not ask.
        #[arg(long, requires = "all")]
        yes: bool,
    },
    /// For maintainers: each starter's fingerprint (its src/ and tests/ on
    /// disk) against the one its manifest records; `--write` records them.
    /// A lesson with its recorded fingerprint is "not started" without a build.
    Fingerprint {
        /// Write the fingerprints into the lessons' Cargo.toml.
        #[arg(long)]
        write: bool,
    },
    /// For maintainers: cargo-mutants over every reference solution (or
    /// these): the lesson's checks must catch every mutant that
    /// `.cargo/mutants.toml` does not exclude with a reason.
    Mutants {
        /// Mutate the files on disk instead of the committed ones.
        #[arg(long, conflicts_with = "in_place")]
        working_tree: bool,
        /// Mutate the workspace itself, with its target directory (CI's
        /// throwaway clone). Files are restored after each mutant.
        #[arg(long)]
        in_place: bool,
        /// Only the lessons with a clean run recorded in
        /// `.cargo/mutants-record.toml` whose solution, checks or support
        /// changed since.
        #[arg(long)]
        changed: bool,
        /// Record the figures of every lesson that passes.
        #[arg(long)]
        record: bool,
        /// Only these lessons (default: all).
        lessons: Vec<String>,
    },
    /// For maintainers: the time from a save to the verdict, for every
    /// lesson (or these), starter and solved; median of 5 warm runs.
    LoopTime {
        /// Time the lessons on disk instead of the committed ones.
        #[arg(long)]
        working_tree: bool,
        /// Only these lessons (default: all).
        lessons: Vec<String>,
    },
    /// For maintainers: each starter fails with its documented errors and
    /// each solution passes its lesson's checks.
    Verify {
        /// Verify the starters on disk instead of the committed ones.
        #[arg(long)]
        working_tree: bool,
        /// Only these lessons (default: all).
        lessons: Vec<String>,
    },
}

/// The workspace the coach works on.
struct Workspace {
    root: PathBuf,
    target_dir: PathBuf,
    lessons: Vec<Lesson>,
}

impl Workspace {
    fn load() -> Result<Workspace> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .no_deps()
            .exec()
            .context("run the coach from inside the async-patterns folder")?;
        let root = metadata.workspace_root.into_std_path_buf();
        let lessons = lessons::discover(&root)?;
        Ok(Workspace {
            target_dir: metadata.target_directory.into_std_path_buf(),
            lessons,
            root,
        })
    }

    fn lesson(&self, name: &str) -> Result<&Lesson> {
        lessons::find(&self.lessons, name)
    }

    /// The lessons `names` mean, or all of them when there are none.
    fn chosen(&self, names: &[String]) -> Result<Vec<&Lesson>> {
        if names.is_empty() {
            return Ok(self.lessons.iter().collect());
        }
        names.iter().map(|name| self.lesson(name)).collect()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.color {
        ColorWhen::Auto => {}
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
    }
    let command = cli.command.unwrap_or(Command::Status);
    let builds = matches!(
        command,
        Command::Status
            | Command::Check { .. }
            | Command::Watch { .. }
            | Command::Verify { .. }
            | Command::Mutants { .. }
            | Command::LoopTime { .. }
    );
    let result = Workspace::load().and_then(|ws| {
        if builds {
            warn_if_another_compiler(&ws.root);
        }
        run(&ws, command)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("{BAD}error:{BAD:#} {error:#}");
            ExitCode::from(2)
        }
    }
}

/// One line when cargo will not use the pinned compiler.
fn warn_if_another_compiler(root: &Path) {
    let pinned = toolchain::pinned(root);
    let in_use = toolchain::in_use();
    if let Some(line) = toolchain::mismatch(pinned.as_deref(), in_use.as_deref()) {
        eprintln!("{WARN}{line}{WARN:#}");
    }
}

fn run(ws: &Workspace, command: Command) -> Result<bool> {
    match command {
        Command::Status => status(ws),
        Command::Check { lesson } => check(ws, ws.lesson(&lesson)?),
        Command::Watch { lesson } => watch(ws, lesson.as_deref()),
        Command::Hint {
            lesson,
            number,
            all,
        } => hint(ws, ws.lesson(&lesson)?, number, all),
        Command::Reset {
            lesson,
            undo,
            all,
            yes,
        } => match (lesson, all) {
            (Some(_), true) => bail!("name one lesson, or --all, not both"),
            (None, false) => bail!("which lesson? `cargo run -- reset NN`, or `reset --all`"),
            (None, true) => reset_all(ws, yes),
            (Some(name), false) if undo => undo_reset(ws, ws.lesson(&name)?),
            (Some(name), false) => reset(ws, ws.lesson(&name)?),
        },
        Command::Explain { error } => explain::explain(&ws.root, &ws.lessons, &error.join(" ")),
        Command::Fingerprint { write } => fingerprint(ws, write),
        Command::Mutants {
            working_tree,
            in_place,
            changed,
            record,
            lessons,
        } => {
            let chosen = ws.chosen(&lessons)?;
            let options = mutants::Options {
                in_place,
                changed_only: changed,
                record,
                source: if working_tree {
                    verify::Source::WorkingTree
                } else {
                    verify::Source::Head
                },
            };
            mutants::run(&ws.root, &ws.target_dir, &chosen, options)
        }
        Command::LoopTime {
            working_tree,
            lessons,
        } => {
            let chosen = ws.chosen(&lessons)?;
            let source = if working_tree {
                verify::Source::WorkingTree
            } else {
                verify::Source::Head
            };
            looptime::run(&ws.root, &ws.target_dir, &chosen, source)
        }
        Command::Verify {
            working_tree,
            lessons,
        } => {
            let chosen = ws.chosen(&lessons)?;
            let source = if working_tree {
                verify::Source::WorkingTree
            } else {
                verify::Source::Head
            };
            let sound = verify::run(&ws.root, &ws.target_dir, &chosen, source)?;
            if sound {
                println!(
                    "verify: {GOOD}every starter fails as documented and every solution passes{GOOD:#}"
                );
                Ok(true)
            } else {
                println!("verify: {BAD}FAILED{BAD:#} (see above)");
                Ok(false)
            }
        }
    }
}

/// The progress table, then the next lesson in detail.
fn status(ws: &Workspace) -> Result<bool> {
    let mut progress = Progress::open(&ws.root, &ws.target_dir);
    let live = std::io::stderr().is_terminal();
    // A lesson whose files are still the committed starter is not started:
    // how it fails is in its manifest, so it needs no build. Only lessons
    // the learner changed are built and checked (most come from the cache),
    // and then the next lesson, to show its first error. A first `cargo
    // run` on a fresh clone builds the coach and lesson 01, nothing else.
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    for lesson in &ws.lessons {
        if lesson.is_untouched(&ws.root) {
            outcomes.push(None);
            continue;
        }
        if live {
            eprint!(
                "\r\x1b[2Kchecking lesson {} (you changed it)...",
                lesson.number
            );
        }
        outcomes.push(Some(progress.outcome(lesson, true)?));
    }
    let next = outcomes
        .iter()
        .position(|outcome| !outcome.as_ref().is_some_and(Outcome::is_done));
    if let Some(index) = next
        && outcomes[index].is_none()
    {
        let lesson = &ws.lessons[index];
        if live {
            eprintln!(
                "\r\x1b[2Klesson {} is next: building it to show its first error \
                 (the first time, with its dependencies: about a minute)",
                lesson.number
            );
        }
        outcomes[index] = Some(progress.outcome(lesson, true)?);
    }
    if live {
        eprint!("\r\x1b[2K");
    }
    let done = outcomes
        .iter()
        .filter(|o| o.as_ref().is_some_and(Outcome::is_done))
        .count();
    println!(
        "async-patterns: {done} of {} lessons done\n",
        ws.lessons.len()
    );
    for lesson in &ws.lessons {
        warn_if_checks_edited(ws, lesson);
    }
    // Titles in one column, as wide as the longest.
    let width = ws
        .lessons
        .iter()
        .map(|l| l.title.chars().count())
        .max()
        .unwrap_or(0);
    for (lesson, outcome) in ws.lessons.iter().zip(&outcomes) {
        let (mark, style, summary) = match outcome {
            Some(outcome) => (
                if outcome.is_done() { "[x]" } else { "[ ]" },
                verdict_style(outcome),
                outcome.summary(),
            ),
            None => ("[ ]", Style::new(), not_started(lesson)),
        };
        println!(
            "  {style}{mark}{style:#} {}  {:<width$}  {style}{summary}{style:#}",
            lesson.number, lesson.title,
        );
    }
    println!();
    match next.map(|index| (&ws.lessons[index], &outcomes[index])) {
        None => println!("Every lesson is done. The book has more to read: book/src/SUMMARY.md"),
        Some((lesson, outcome)) => {
            let outcome = outcome.as_ref().expect("the next lesson was checked");
            println!("Next: {lesson}\n");
            println!("  edit   {}/src/lib.rs", lesson.folder());
            println!(
                "  read   {} (or `mdbook serve book --open`)",
                lesson.chapter_path().display()
            );
            println!(
                "  check  `cargo test` in {}, or `cargo run -- check {}`",
                lesson.folder(),
                lesson.number
            );
            println!("         (`cargo test` at the root does not test your lessons)");
            if let Some(first_hint) = lesson.hints(&ws.root)?.first() {
                println!("\n  hint 1: {}", indent(first_hint, "          "));
                println!("          more: `cargo run -- hint {} 2`", lesson.number);
            }
            describe(outcome, false);
        }
    }
    Ok(true)
}

/// `fingerprint [--write]`: the starters' fingerprints, recorded or not.
fn fingerprint(ws: &Workspace, write: bool) -> Result<bool> {
    let mut all_recorded = true;
    for lesson in &ws.lessons {
        let actual = workspace::starter_fingerprint(&ws.root.join(&lesson.dir))?;
        let recorded = lesson.starter_fingerprint.as_deref() == Some(actual.as_str());
        let manifest = ws.root.join(&lesson.dir).join("Cargo.toml");
        if !recorded && write {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let mut document: toml_edit::DocumentMut = text
                .parse()
                .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
            document["package"]["metadata"]["lesson"]["starter-fingerprint"] =
                toml_edit::value(actual.as_str());
            std::fs::write(&manifest, document.to_string())
                .with_context(|| format!("cannot write {}", manifest.display()))?;
            println!("  {} {actual}  written", lesson.number);
        } else {
            let state = if recorded { "recorded" } else { "NOT recorded" };
            println!("  {} {actual}  {state}", lesson.number);
            all_recorded &= recorded;
        }
    }
    if !all_recorded {
        println!(
            "\nA starter whose fingerprint is not recorded is built by every `cargo run` \
             to tell whether it is started. If its change is meant: `cargo run -- fingerprint --write`."
        );
    }
    Ok(all_recorded || write)
}

/// The status line of a lesson still as committed, from its manifest.
fn not_started(lesson: &Lesson) -> String {
    if !lesson.fails_with.is_empty() {
        format!(
            "not started (does not compile: {})",
            lesson.fails_with.join(", ")
        )
    } else if !lesson.fails_checks.is_empty() {
        let n = lesson.fails_checks.len();
        let checks = if n == 1 { "check fails" } else { "checks fail" };
        format!("not started (compiles; {n} {checks})")
    } else {
        "not started".to_owned()
    }
}

/// The colour of an outcome: done, failing checks, or not compiling.
fn verdict_style(outcome: &Outcome) -> Style {
    match outcome {
        Outcome::Done { .. } => GOOD,
        Outcome::ChecksFail { .. } => WARN,
        Outcome::DoesNotCompile { .. } | Outcome::Broken { .. } => BAD,
    }
}

/// Runs one lesson's checks, without the cache, and shows what fails.
fn check(ws: &Workspace, lesson: &Lesson) -> Result<bool> {
    println!("checking {lesson}: cargo test -p {}", lesson.package);
    warn_if_checks_edited(ws, lesson);
    let outcome = Progress::open(&ws.root, &ws.target_dir).outcome(lesson, false)?;
    let style = verdict_style(&outcome);
    println!("{style}{}{style:#}", outcome.summary());
    describe(&outcome, true);
    if outcome.is_done() {
        println!(
            "\nWell done. Compare with the reference: diff -u {}/src {}/src",
            lesson.folder(),
            lesson.solution_dir().display()
        );
    } else {
        println!(
            "\nStuck? `cargo run -- hint {}`; the chapter: {}",
            lesson.number,
            lesson.chapter_path().display()
        );
    }
    Ok(outcome.is_done())
}

/// Checks a lesson, then again after every change under `lessons/`, and
/// moves on to the next lesson when one is done. Stops with Ctrl-C.
fn watch(ws: &Workspace, start: Option<&str>) -> Result<bool> {
    use notify::{RecursiveMode, Watcher};

    let (changed, changes) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = changed.send(());
        }
    })
    .context("cannot watch the lessons for changes")?;
    watcher.watch(&ws.root.join("lessons"), RecursiveMode::Recursive)?;

    let mut progress = Progress::open(&ws.root, &ws.target_dir);
    let mut current = match start {
        Some(name) => ws.lesson(name)?.clone(),
        None => match first_not_done(ws, &mut progress)? {
            Some(lesson) => lesson,
            None => {
                println!("Every lesson is done.");
                return Ok(true);
            }
        },
    };
    loop {
        println!("\n=== {current}: cargo test -p {}", current.package);
        let outcome = progress.outcome(&current, false)?;
        let style = verdict_style(&outcome);
        println!("{style}{}{style:#}", outcome.summary());
        describe(&outcome, true);
        if outcome.is_done() {
            match first_not_done(ws, &mut progress)? {
                Some(next) => {
                    println!(
                        "\n{current} is done. On to {next}: {}",
                        next.chapter_path().display()
                    );
                    current = next;
                    continue;
                }
                None => {
                    println!("\nEvery lesson is done.");
                    return Ok(true);
                }
            }
        }
        println!(
            "\nwatching {}/src; save to check again (Ctrl-C stops)",
            current.folder()
        );
        changes.recv().context("the file watcher stopped")?;
        // An editor's save is often several events: wait for the burst to end.
        std::thread::sleep(std::time::Duration::from_millis(100));
        while changes.try_recv().is_ok() {}
    }
}

fn first_not_done(ws: &Workspace, progress: &mut Progress) -> Result<Option<Lesson>> {
    for lesson in &ws.lessons {
        // An untouched starter is not done, and needs no build to say so.
        if lesson.is_untouched(&ws.root) || !progress.outcome(lesson, true)?.is_done() {
            return Ok(Some(lesson.clone()));
        }
    }
    Ok(None)
}

/// A lesson's checks and manifest are shared with its solution: edits there
/// make "done" mean something else, and can turn the root `cargo test` red.
fn warn_if_checks_edited(ws: &Workspace, lesson: &Lesson) {
    for part in ["tests", "Cargo.toml"] {
        let path = lesson.dir.join(part);
        if workspace::has_local_edits(&ws.root, &path) == Some(true) {
            println!(
                "{WARN}warning:{WARN:#} {} differs from the committed version. Change only src/; \
                 `git checkout -- {}` restores it.",
                path.display(),
                path.display()
            );
        }
    }
}

/// The detail of an outcome: the first error, or the failing checks.
fn describe(outcome: &Outcome, full: bool) {
    match outcome {
        Outcome::Done { .. } => {}
        Outcome::Broken { why } => println!("\n{}", indent(why, "  ")),
        Outcome::DoesNotCompile { first, .. } => {
            println!("\n  the first error:\n");
            for line in first.trim_end().lines() {
                println!("    {line}");
            }
            println!("\n  (every error: `cargo test` in the lesson's folder)");
        }
        Outcome::ChecksFail { failed, report, .. } => {
            println!("\n  failing checks:");
            for name in failed {
                println!("    {name}");
            }
            if full {
                println!("\n{report}");
            }
        }
    }
}

fn hint(ws: &Workspace, lesson: &Lesson, number: usize, all: bool) -> Result<bool> {
    let hints = lesson.hints(&ws.root)?;
    let total = hints.len();
    if all {
        for (i, text) in hints.iter().enumerate() {
            println!("hint {} of {total}: {}\n", i + 1, indent(text, "  "));
        }
        return Ok(true);
    }
    let Some(text) = number.checked_sub(1).and_then(|i| hints.get(i)) else {
        bail!("{lesson} has hints 1 to {total}");
    };
    println!(
        "{lesson}, hint {number} of {total}:\n\n{}\n",
        indent(text, "")
    );
    if number < total {
        println!("next: `cargo run -- hint {} {}`", lesson.number, number + 1);
    } else {
        println!(
            "That was the last hint. The reference solution is in {}.",
            lesson.solution_dir().display()
        );
    }
    Ok(true)
}

/// Restores the committed version of a lesson, after copying the learner's
/// version to `backups/`.
fn reset(ws: &Workspace, lesson: &Lesson) -> Result<bool> {
    let folder = ws.root.join(&lesson.dir);
    match workspace::has_local_edits(&ws.root, &lesson.dir) {
        None if lesson.is_untouched(&ws.root) => {
            println!("{} is as committed: nothing to reset.", lesson.folder());
            return Ok(true);
        }
        None => bail!("{}", needs_git(&format!("{}/src", lesson.folder()))),
        Some(false) => {
            println!("{} is as committed: nothing to reset.", lesson.folder());
            return Ok(true);
        }
        Some(true) => {}
    }
    let pristine = ws.target_dir.join("coach").join("reset");
    if pristine.exists() {
        std::fs::remove_dir_all(&pristine)?;
    }
    workspace::export_from_head(&ws.root, &[lesson.dir.as_path()], &pristine)?;

    let backup = backup_path(ws, lesson);
    workspace::replace_dir(&folder, &ws.root.join(&backup))
        .with_context(|| format!("could not back up {}; nothing was reset", lesson.folder()))?;
    workspace::replace_dir(&pristine.join(&lesson.dir), &folder)?;
    println!("{} is back to the committed starter.", lesson.folder());
    println!(
        "Your version is in {}; `cargo run -- reset --undo {}` brings it back.",
        backup.display(),
        lesson.number
    );
    Ok(true)
}

/// Why `reset` cannot work here, in one line: the committed starter comes
/// from git's history, and a copy without `.git` has none.
fn needs_git(what: &str) -> String {
    format!(
        "reset needs git, and this copy has no .git folder (a ZIP download?): nothing was \
         changed. Copy {what} from a fresh download, or `git clone` the course to use reset."
    )
}

/// Brings back the newest backup of a lesson, after backing up what it
/// replaces: an undo can itself be undone.
fn undo_reset(ws: &Workspace, lesson: &Lesson) -> Result<bool> {
    let Some(newest) = newest_backup(ws, lesson)? else {
        bail!(
            "there is no backup of {} to bring back (`reset` makes one)",
            lesson.folder()
        );
    };
    let folder = ws.root.join(&lesson.dir);
    let replaced = backup_path(ws, lesson);
    workspace::replace_dir(&folder, &ws.root.join(&replaced))
        .with_context(|| format!("could not back up {}; nothing was changed", lesson.folder()))?;
    workspace::replace_dir(&ws.root.join(&newest), &folder)?;
    println!(
        "{} is back to your version from {}.",
        lesson.folder(),
        newest.display()
    );
    println!(
        "What it replaced is in {}; `cargo run -- reset --undo {}` again brings that back.",
        replaced.display(),
        lesson.number
    );
    Ok(true)
}

/// Resets every lesson with local changes, after asking on a terminal.
/// Without a terminal it refuses unless `yes`: a script must say so.
fn reset_all(ws: &Workspace, yes: bool) -> Result<bool> {
    let mut edited = Vec::new();
    for lesson in &ws.lessons {
        match workspace::has_local_edits(&ws.root, &lesson.dir) {
            None if lesson.is_untouched(&ws.root) => {}
            None => bail!("{}", needs_git(&format!("{}/src", lesson.folder()))),
            Some(true) => edited.push(lesson),
            Some(false) => {}
        }
    }
    if edited.is_empty() {
        println!("Every lesson is as committed: nothing to reset.");
        return Ok(true);
    }
    let names: Vec<&str> = edited.iter().map(|l| l.number.as_str()).collect();
    let names = names.join(", ");
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "reset --all would reset lessons {names}; it asks first, and there is no \
                 terminal to ask on. Nothing was changed. Add --yes to reset them anyway."
            );
        }
        print!(
            "Reset lessons {names} to their starters? Your versions are backed up first. [y/N] "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing was reset.");
            return Ok(true);
        }
    }
    for lesson in edited {
        reset(ws, lesson)?;
    }
    Ok(true)
}

/// Where the next backup of `lesson` goes: `backups/NN-slug-<ms>-<n>`,
/// unique, and in time order when sorted by name.
fn backup_path(ws: &Workspace, lesson: &Lesson) -> PathBuf {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    (0..)
        .map(|n| {
            Path::new("backups").join(format!(
                "{}-{}-{millis:013}-{n:03}",
                lesson.number, lesson.slug
            ))
        })
        .find(|path| !ws.root.join(path).exists())
        .expect("some backup name is free")
}

/// The newest backup of `lesson`, relative to the root.
fn newest_backup(ws: &Workspace, lesson: &Lesson) -> Result<Option<PathBuf>> {
    let dir = ws.root.join("backups");
    if !dir.is_dir() {
        return Ok(None);
    }
    let prefix = format!("{}-{}-", lesson.number, lesson.slug);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).context("cannot list backups/")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names.pop().map(|name| Path::new("backups").join(name)))
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 || line.is_empty() {
                line.to_owned()
            } else {
                format!("{prefix}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
