//! Running a lesson's checks with cargo, and reading what happened from
//! cargo's JSON messages.

use std::collections::BTreeSet;
use std::io::{BufReader, IsTerminal};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;
use serde::{Deserialize, Serialize};

/// Where a lesson stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It does not compile. `errors` are rustc's error codes, or the message
    /// of an error that has none; `first` is the first error, rendered.
    DoesNotCompile {
        errors: BTreeSet<String>,
        first: String,
    },
    /// It compiles, and these checks fail. `report` is what the test
    /// harness printed about them.
    ChecksFail {
        failed: Vec<String>,
        passed: usize,
        report: String,
    },
    /// The checks did not run to the end: the test binary crashed or hung,
    /// or cargo could not start them.
    Broken { why: String },
    /// Every check passes; `checks` are their names.
    Done {
        passed: usize,
        #[serde(default)]
        checks: Vec<String>,
    },
}

impl Outcome {
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }

    /// One line for the progress table.
    pub fn summary(&self) -> String {
        match self {
            Outcome::DoesNotCompile { errors, .. } => {
                let list: Vec<&str> = errors.iter().map(String::as_str).collect();
                format!("does not compile: {}", list.join(", "))
            }
            Outcome::ChecksFail { failed, passed, .. } => {
                format!(
                    "compiles; {} of {} checks fail",
                    failed.len(),
                    failed.len() + passed
                )
            }
            Outcome::Broken { why } => {
                format!(
                    "checks did not finish: {}",
                    why.lines().next().unwrap_or_default()
                )
            }
            Outcome::Done { passed, .. } => format!("done ({passed} checks pass)"),
        }
    }
}

/// How long the checks of one lesson may run once they are built. They take
/// well under a second with paused time; `COACH_TEST_TIMEOUT_SECS` overrides.
fn test_time_limit() -> Duration {
    let seconds = std::env::var("COACH_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(seconds)
}

/// Stops cargo and the test binary it runs: killing cargo alone would leave
/// a hung test binary behind.
fn kill_tree(child: &mut Child) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &child.id().to_string()])
        .status();
    let _ = child.kill();
}

/// Runs `cargo test -p package` in the workspace at `root`, building into
/// `target_dir`, and says how it went.
pub fn run(root: &Path, target_dir: &Path, package: &str) -> Result<Outcome> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Colours in the rendered errors only when a person is reading them.
    let format = if std::io::stdout().is_terminal() {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    };
    let mut child = Command::new(&cargo)
        .current_dir(root)
        .args(["test", "--no-fail-fast", format, "-p", package])
        .env("CARGO_TARGET_DIR", target_dir)
        // The learner's terminal gets rendered diagnostics from us, not
        // cargo's progress lines.
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cargo}"))?;

    let stdout = child.stdout.take().context("cargo's stdout is piped")?;
    let stderr = child.stderr.take().context("cargo's stderr is piped")?;
    // Drain stderr on its own thread so that a chatty cargo cannot block.
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Read cargo's messages on another thread, so that this one can stop a
    // test run that never ends (a learner's code that blocks the thread
    // defeats every timeout inside the checks).
    let (messages, incoming) = mpsc::channel();
    std::thread::spawn(move || {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            if messages.send(message).is_err() {
                break;
            }
        }
    });
    let limit = test_time_limit();
    let mut report = Report::default();
    let mut tests_started: Option<Instant> = None;
    // A first build takes a minute on a small machine: say what is going
    // on, on one line that is overwritten, where a person is watching.
    let live = std::io::stderr().is_terminal();
    let mut built = 0;
    loop {
        match incoming.recv_timeout(Duration::from_millis(250)) {
            Ok(message) => {
                let message = message.context("cannot read cargo's output")?;
                if let Message::CompilerArtifact(artifact) = &message {
                    built += 1;
                    if live && !artifact.fresh {
                        eprint!(
                            "\r\x1b[2K  building {package}: {built} crates ready ({})",
                            artifact.target.name
                        );
                    }
                }
                if matches!(message, Message::BuildFinished(_)) {
                    tests_started = Some(Instant::now());
                    if live {
                        eprint!("\r\x1b[2K  running the checks of {package}");
                    }
                }
                report.take(message);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if tests_started.is_some_and(|started| started.elapsed() > limit) {
            kill_tree(&mut child);
            let _ = child.wait();
            return Ok(Outcome::Broken {
                why: format!(
                    "the checks were still running after {}s and were stopped. \
                     Does something block the thread (`std::thread::sleep`, a busy \
                     loop, a blocking lock) instead of `.await`ing?",
                    limit.as_secs()
                ),
            });
        }
    }
    let status = child.wait().context("cargo did not finish")?;
    let stderr = stderr.join().unwrap_or_default();
    if live {
        eprint!("\r\x1b[2K");
    }

    if !report.errors.is_empty() {
        return Ok(Outcome::DoesNotCompile {
            errors: report.errors,
            first: report.first_error.unwrap_or_default(),
        });
    }
    if !report.failed.is_empty() {
        return Ok(Outcome::ChecksFail {
            failed: report.failed,
            passed: report.passed,
            report: report.failures_text,
        });
    }
    if !status.success() {
        // Neither a compile error nor a failing check: a crashed test binary
        // (a stack overflow, an abort), a broken manifest. cargo's own words
        // say which; the last lines are the telling ones.
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        return Ok(Outcome::Broken {
            why: format!("`cargo test -p {package}` failed:\n{tail}"),
        });
    }
    Ok(Outcome::Done {
        passed: report.passed,
        checks: report.passed_names,
    })
}

/// The errors of `cargo build -p package` in the workspace at `root`, as
/// rustc renders them without colour, one after the other (rustc's closing
/// "aborting due to" left out). It is what a lesson's `starter.stderr`
/// records when the error comes from a crate too heavy for `ui-tests/`.
pub fn rendered_errors(root: &Path, target_dir: &Path, package: &str) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--message-format=json", "-p", package])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {cargo}"))?;
    let mut text = String::new();
    for message in Message::parse_stream(&output.stdout[..]) {
        let Ok(Message::CompilerMessage(message)) = message else {
            continue;
        };
        let diagnostic = message.message;
        if diagnostic.level == DiagnosticLevel::Error
            && !diagnostic.message.starts_with("aborting due to")
            && let Some(rendered) = diagnostic.rendered
        {
            text.push_str(&rendered);
        }
    }
    Ok(text)
}

/// What the stream of cargo messages told us so far.
#[derive(Default)]
struct Report {
    errors: BTreeSet<String>,
    first_error: Option<String>,
    passed: usize,
    passed_names: Vec<String>,
    failed: Vec<String>,
    /// The harness's "failures:" section, which holds the panic messages.
    failures_text: String,
    in_failures: bool,
}

impl Report {
    fn take(&mut self, message: Message) {
        match message {
            Message::CompilerMessage(message) => {
                let diagnostic = message.message;
                if diagnostic.level != DiagnosticLevel::Error
                    && diagnostic.level != DiagnosticLevel::Ice
                {
                    return;
                }
                // rustc closes with "aborting due to N previous errors", an
                // error without a code that is not an error of the code.
                if diagnostic.message.starts_with("aborting due to") {
                    return;
                }
                let name = match &diagnostic.code {
                    Some(code) => code.code.clone(),
                    None => diagnostic.message.clone(),
                };
                self.errors.insert(name);
                if self.first_error.is_none() {
                    self.first_error = diagnostic.rendered.clone();
                }
            }
            Message::TextLine(line) => self.take_test_line(&line),
            _ => {}
        }
    }

    /// Lines of the libtest harness: `test name ... ok|FAILED`, and the
    /// failure details that follow `failures:`.
    fn take_test_line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("test ") {
            // A `#[should_panic]` test is listed as `name - should panic`.
            let name = |name: &str| name.trim_end_matches(" - should panic").to_owned();
            if let Some(passed) = rest.strip_suffix(" ... ok") {
                self.passed += 1;
                self.passed_names.push(name(passed));
                return;
            }
            if let Some(failed) = rest.strip_suffix(" ... FAILED") {
                self.failed.push(name(failed));
                return;
            }
            if rest.starts_with("result:") {
                self.in_failures = false;
                return;
            }
        }
        if line == "failures:" {
            self.in_failures = true;
        }
        if self.in_failures {
            self.failures_text.push_str(line);
            self.failures_text.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(report: &mut Report, text: &str) {
        for line in text.lines() {
            report.take(Message::TextLine(line.to_owned()));
        }
    }

    #[test]
    fn test_results_are_counted_and_failures_kept() {
        let mut report = Report::default();
        lines(
            &mut report,
            "running 3 tests\n\
             test checks::order::a ... ok\n\
             test checks::zero_copy::b ... FAILED\n\
             test checks::c - should panic ... ok\n\
             \n\
             failures:\n\
             \n\
             ---- checks::zero_copy::b stdout ----\n\
             line copied\n\
             \n\
             failures:\n    checks::zero_copy::b\n\
             \n\
             test result: FAILED. 2 passed; 1 failed\n",
        );
        assert_eq!(report.passed, 2);
        assert_eq!(report.passed_names, ["checks::order::a", "checks::c"]);
        assert_eq!(report.failed, ["checks::zero_copy::b"]);
        assert!(report.failures_text.contains("line copied"));
        assert!(!report.failures_text.contains("test result"));
    }

    #[test]
    fn compiler_errors_are_read_from_json_with_or_without_a_code() {
        let mut report = Report::default();
        let json = [
            r#"{"reason":"compiler-message","package_id":"path+file:///x#lesson@0.1.0","manifest_path":"/x/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"lesson","src_path":"/x/src/lib.rs","edition":"2024","doc":true,"doctest":true,"test":true},"message":{"rendered":"error[E0597]: `self` does not live long enough\n","$message_type":"diagnostic","children":[],"code":{"code":"E0597","explanation":null},"level":"error","message":"`self` does not live long enough","spans":[]}}"#,
            r#"{"reason":"compiler-message","package_id":"path+file:///x#lesson@0.1.0","manifest_path":"/x/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"lesson","src_path":"/x/src/lib.rs","edition":"2024","doc":true,"doctest":true,"test":true},"message":{"rendered":"error: lifetime may not live long enough\n","$message_type":"diagnostic","children":[],"code":null,"level":"error","message":"lifetime may not live long enough","spans":[]}}"#,
            r#"{"reason":"compiler-message","package_id":"path+file:///x#lesson@0.1.0","manifest_path":"/x/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"lesson","src_path":"/x/src/lib.rs","edition":"2024","doc":true,"doctest":true,"test":true},"message":{"rendered":"error: aborting due to 2 previous errors\n","$message_type":"diagnostic","children":[],"code":null,"level":"error","message":"aborting due to 2 previous errors","spans":[]}}"#,
        ];
        for message in Message::parse_stream(json.join("\n").as_bytes()) {
            report.take(message.unwrap());
        }
        let errors: Vec<&str> = report.errors.iter().map(String::as_str).collect();
        assert_eq!(errors, ["E0597", "lifetime may not live long enough"]);
        assert_eq!(
            report.first_error.as_deref(),
            Some("error[E0597]: `self` does not live long enough\n")
        );
    }
}
