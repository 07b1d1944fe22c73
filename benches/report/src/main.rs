//! `cargo run -p costs-report`: turns several runs of `cargo bench -p
//! benches` into the costs chapter's data.
//!
//! One run is not a claim: two runs on the same machine differ by more
//! than some of the differences the chapter talks about. So the report
//! reads every run saved as a criterion baseline named `run-*`
//!
//! ```text
//! for n in 1 2 3 4 5; do cargo bench -p benches -- --save-baseline run-$n; done
//! cargo run -p costs-report
//! ```
//!
//! and, for every comparison, computes the ratio of the two throughputs
//! within each run (both sides measured minutes apart, under the same
//! conditions), then the median and the spread (lowest, highest) of those
//! ratios over the runs. A target counts as met only when every run meets
//! it. Without `run-*` baselines it falls back to criterion's last run
//! (`new`), and says it is one run.
//!
//! It writes `book/src/costs-results.md` (tables, included by the chapter
//! with anchors) and one chart per bench group, `book/src/images/costs-<group>.svg`:
//! the ratios, with their spread, a line at 1.0 and a mark at each target;
//! for a group with no comparison, throughputs on a linear axis from zero.
//! Nothing in either is written by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

/// A comparison the chapter makes: `ours` against `theirs` in `group`, as
/// a ratio of throughputs, with the lowest ratio it aims for (if any).
struct Claim {
    lesson: &'static str,
    group: &'static str,
    ours: &'static str,
    theirs: &'static str,
    /// The lowest acceptable ratio of throughputs, per parameter (`"*"`:
    /// every parameter); empty when there is no target.
    targets: &'static [(&'static str, f64)],
    what: &'static str,
}

const CLAIMS: &[Claim] = &[
    Claim {
        lesson: "01, 02",
        group: "dispatch",
        ours: "spawn_per_plugin",
        theirs: "join_all",
        targets: &[],
        what: "a task per plugin per message, against polling every handler on the caller's task",
    },
    Claim {
        lesson: "01, 02",
        group: "dispatch",
        ours: "spawn_per_plugin",
        theirs: "join_set",
        targets: &[],
        what: "a task per plugin per message, against the same tasks in a `JoinSet`",
    },
    Claim {
        lesson: "03",
        group: "session",
        ours: "views",
        theirs: "raw_channel",
        targets: &[("*", 0.8)],
        what: "the session (read, cut, send) against a bare channel of ready-made lines",
    },
    Claim {
        lesson: "03",
        group: "session",
        ours: "views",
        theirs: "read_and_cut",
        targets: &[],
        what: "the session against its own reading and cutting, without the channel",
    },
    Claim {
        lesson: "03",
        group: "session",
        ours: "views",
        theirs: "copies",
        targets: &[],
        what: "lines as views, against the same lines copied",
    },
    Claim {
        lesson: "04",
        group: "frame_decoding",
        ours: "frame_reader",
        theirs: "length_delimited_codec",
        targets: &[("1KiB", 1.5)],
        what: "the hand-written `FrameReader`, against `FramedRead` + `LengthDelimitedCodec`",
    },
    Claim {
        lesson: "04",
        group: "frame_decoding",
        ours: "frame_reader",
        theirs: "copy_only",
        targets: &[],
        what: "the hand-written `FrameReader`, against copying the same bytes in and cutting no frame",
    },
    Claim {
        lesson: "05",
        group: "arena_get",
        ours: "arena",
        theirs: "slotmap",
        // A get within 1.2x of SlotMap's time: at least 1/1.2 its throughput.
        targets: &[("*", 0.83)],
        what: "a `get` at random from the message arena, against `slotmap::SlotMap`",
    },
    Claim {
        lesson: "05",
        group: "arena_churn",
        ours: "arena",
        theirs: "slotmap",
        // Churn within 1.5x of SlotMap's time: at least 1/1.5 its throughput.
        targets: &[("*", 0.67)],
        what: "churn (release, insert, get) in the arena, against `slotmap::SlotMap`",
    },
    Claim {
        lesson: "05",
        group: "arena_churn",
        ours: "arena",
        theirs: "slab",
        targets: &[],
        what: "the same churn, against `slab::Slab` (no generations)",
    },
    Claim {
        lesson: "05",
        group: "arena_insert",
        ours: "arena",
        theirs: "slotmap",
        targets: &[],
        what: "filling an empty arena, against `slotmap::SlotMap`",
    },
    Claim {
        lesson: "06",
        group: "actors",
        ours: "actor",
        theirs: "raw_mpsc",
        // Fire and forget at least 0.67x the raw throughput; an ask round
        // trip at most 2x the raw time, so at least 0.5x its throughput.
        targets: &[("tell", 0.67), ("ask", 0.5)],
        what: "the plugin host's actor, against a raw tokio mpsc channel into a task",
    },
    Claim {
        lesson: "08",
        group: "spawn_or_act",
        ours: "serve_a_task_each",
        theirs: "buffer_unordered",
        targets: &[],
        what: "a task per request (at most 64), against the same requests polled on the caller's task",
    },
    Claim {
        lesson: "08",
        group: "spawn_or_act",
        ours: "tally_add",
        theirs: "mutex_update",
        targets: &[],
        what: "a message to the tally actor, against an update behind an uncontended mutex",
    },
    Claim {
        lesson: "08",
        group: "spawn_or_act",
        ours: "tally_total_ask",
        theirs: "tally_add",
        targets: &[],
        what: "an ask (a message and a oneshot reply), against a message alone",
    },
    Claim {
        lesson: "10",
        group: "tonic_snapshots",
        ours: "feed",
        theirs: "ready_made",
        // The target here is absolute (0.8 M snapshots/s on 2 cores): it is
        // the feed's row in the table of throughputs.
        targets: &[],
        what: "the snapshot feed behind tonic, against ready-made snapshots on the same server and client",
    },
];

/// What one benchmark measured in one run: items (or bytes) per second.
#[derive(Clone, Copy, Debug)]
struct Measured {
    per_second: f64,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Items,
    Bytes,
    Runs,
}

/// group -> function -> parameter -> run -> measured
type Results = BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, Measured>>>>;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Where the benches saved their results: `.cargo/config.toml` sets
    // CRITERION_HOME for every process cargo runs, this one included.
    let criterion = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir(&root).join("criterion"));
    let results = read_results(&criterion);
    if results.is_empty() {
        eprintln!(
            "no results in {}: run `cargo bench -p benches -- --save-baseline run-1` \
             (several times, with run-2, run-3, ...) first",
            criterion.display()
        );
        std::process::exit(1);
    }
    let runs = run_names(&results);
    let images = root.join("book/src/images");
    for (group, functions) in &results {
        let path = images.join(format!("costs-{group}.svg"));
        let drawn = if CLAIMS.iter().any(|c| c.group == group) {
            ratio_chart(&path, group, &results)
        } else {
            throughput_chart(&path, group, functions)
        };
        if let Err(error) = drawn {
            eprintln!("the chart {} could not be drawn: {error}", path.display());
            std::process::exit(1);
        }
        println!("wrote {}", path.display());
    }
    // `--note "..."`: how the machine was set up for the runs (say, the
    // benches pinned to one core), printed with every table.
    let mut args = std::env::args().skip(1);
    let mut note = String::new();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--note", Some(text)) => note = text,
            _ => {
                eprintln!(
                    "usage: cargo run -p costs-report [-- --note \"how the runs were made\"]"
                );
                std::process::exit(2);
            }
        }
    }
    let markdown = tables(&results, &runs, &note);
    let path = root.join("book/src/costs-results.md");
    if let Err(error) = std::fs::write(&path, markdown) {
        eprintln!("{} could not be written: {error}", path.display());
        std::process::exit(1);
    }
    println!("wrote {} from {} run(s)", path.display(), runs.len());
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Every `benchmark.json` under `criterion`, by the run that saved it: the
/// baselines named `run-*`, or criterion's last run (`new`) when there is
/// none of them.
fn read_results(criterion: &Path) -> Results {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    let mut pending = vec![criterion.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && name != "report" {
                pending.push(path);
            } else if name == "benchmark.json"
                && let Some(run) = path
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            {
                found.push((path, run));
            }
        }
    }
    let any_runs = found.iter().any(|(_, run)| run.starts_with("run-"));
    let mut results = Results::new();
    for (path, run) in found {
        let wanted = if any_runs {
            run.starts_with("run-")
        } else {
            run == "new"
        };
        if !wanted {
            continue;
        }
        if let Some((group, function, parameter, measured)) = read_one(&path) {
            results
                .entry(group)
                .or_default()
                .entry(function)
                .or_default()
                .entry(parameter)
                .or_default()
                .insert(run, measured);
        }
    }
    results
}

fn read_one(benchmark: &Path) -> Option<(String, String, String, Measured)> {
    let info: Value = serde_json::from_str(&std::fs::read_to_string(benchmark).ok()?).ok()?;
    let estimates = benchmark.with_file_name("estimates.json");
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(estimates).ok()?).ok()?;
    let nanos = estimates["mean"]["point_estimate"].as_f64()?;
    let (count, unit) = match &info["throughput"] {
        Value::Object(map) if map.contains_key("Elements") => {
            (map["Elements"].as_f64()?, Unit::Items)
        }
        Value::Object(map) if map.contains_key("Bytes") => (map["Bytes"].as_f64()?, Unit::Bytes),
        _ => (1.0, Unit::Runs),
    };
    Some((
        info["group_id"].as_str()?.to_owned(),
        info["function_id"].as_str()?.to_owned(),
        info["value_str"].as_str().unwrap_or("-").to_owned(),
        Measured {
            per_second: count / (nanos * 1e-9),
            unit,
        },
    ))
}

fn run_names(results: &Results) -> Vec<String> {
    let mut runs: Vec<String> = results
        .values()
        .flat_map(|f| f.values())
        .flat_map(|p| p.values())
        .flat_map(|r| r.keys().cloned())
        .collect();
    runs.sort();
    runs.dedup();
    runs
}

/// The median and the lowest and highest of some numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Spread {
    median: f64,
    low: f64,
    high: f64,
    count: usize,
}

fn spread(values: &[f64]) -> Option<Spread> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Spread {
        median,
        low: sorted[0],
        high: sorted[n - 1],
        count: n,
    })
}

/// How a comparison stands against its target.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    /// Every run at or above the target.
    Met,
    /// The median at or above it, some run below: not met with margin.
    NotReliably,
    /// The median below it.
    Missed,
}

fn verdict(ratios: Spread, target: f64) -> Verdict {
    if ratios.low >= target {
        Verdict::Met
    } else if ratios.median >= target {
        Verdict::NotReliably
    } else {
        Verdict::Missed
    }
}

/// The ratio `ours` / `theirs` of throughputs, run by run (only runs that
/// measured both), summarised.
fn ratios(
    ours: &BTreeMap<String, Measured>,
    theirs: &BTreeMap<String, Measured>,
) -> Option<Spread> {
    let per_run: Vec<f64> = ours
        .iter()
        .filter_map(|(run, a)| theirs.get(run).map(|b| a.per_second / b.per_second))
        .collect();
    spread(&per_run)
}

/// Parameters in a human order: "64B" < "1KiB" < "64KiB", "1" < "4" < "16".
fn size_key(parameter: &str) -> (u64, String) {
    let digits: String = parameter.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().unwrap_or(u64::MAX);
    let scale = match &parameter[digits.len()..] {
        "KiB" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        _ => 1,
    };
    (number.saturating_mul(scale), parameter.to_owned())
}

type Functions = BTreeMap<String, BTreeMap<String, BTreeMap<String, Measured>>>;

fn parameters(functions: &Functions) -> Vec<String> {
    let mut all: Vec<String> = functions.values().flat_map(|p| p.keys().cloned()).collect();
    all.sort_by_key(|p| size_key(p));
    all.dedup();
    all
}

fn unit_of(functions: &Functions) -> Unit {
    functions
        .values()
        .flat_map(|p| p.values())
        .flat_map(|r| r.values())
        .next()
        .map_or(Unit::Items, |m| m.unit)
}

/// "12.3 M lines/s"-style numbers: a value with an SI prefix.
fn human(per_second: f64, unit: Unit) -> String {
    let (value, prefix) = match per_second {
        v if v >= 1e9 => (v / 1e9, "G"),
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    let unit = match unit {
        Unit::Bytes => "B/s",
        Unit::Items => "/s",
        Unit::Runs => " runs/s",
    };
    if prefix.is_empty() && unit.starts_with('/') {
        format!("{value:.3}{unit}")
    } else {
        format!("{value:.3} {prefix}{unit}")
    }
}

fn tables(results: &Results, runs: &[String], note: &str) -> String {
    let mut out = String::new();
    // Every core of the machine, not the ones this process may use: the
    // benches may have run pinned to fewer (the note then says so).
    let cores = Command::new("nproc")
        .arg("--all")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let how = if runs.iter().any(|r| r.starts_with("run-")) {
        format!(
            "{} runs of `cargo bench -p benches --bench '*' -- --save-baseline run-N`, then \
             `cargo run -p costs-report`. A ratio is the median of the runs' ratios, \
             with the lowest and the highest in brackets; a target is met only when \
             every run meets it.",
            runs.len()
        )
    } else {
        "one run of `cargo bench -p benches`, then `cargo run -p costs-report`: \
         one run is not enough to tell a difference of a few percent from noise."
            .to_owned()
    };
    let mut measured = format!("Measured on {date}, on a {cores}-core machine, {rustc}: {how}");
    if !note.is_empty() {
        let _ = write!(measured, " {note}");
    }
    let _ = writeln!(
        out,
        "<!-- Written by `cargo run -p costs-report` from the saved criterion runs. \
         Do not edit: run it again. -->\n"
    );
    let _ = writeln!(out, "<!-- ANCHOR: claims -->");
    let _ = writeln!(out, "{measured}\n");
    claims_table(&mut out, results, None);
    let _ = writeln!(out, "<!-- ANCHOR_END: claims -->\n");
    for (group, functions) in results {
        let _ = writeln!(out, "<!-- ANCHOR: {group} -->");
        let _ = writeln!(out, "{measured}\n");
        claims_table(&mut out, results, Some(group));
        let params = parameters(functions);
        let unit = unit_of(functions);
        let what = match unit {
            Unit::Bytes => "bytes per second",
            Unit::Items => "items per second",
            Unit::Runs => "runs per second",
        };
        let _ = writeln!(
            out,
            "`{group}`, throughput in {what}, the median of the runs (higher is better):\n"
        );
        let _ = writeln!(out, "| design | {} |", params.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(params.len()));
        for (function, measured) in functions {
            let cells: Vec<String> = params
                .iter()
                .map(|p| {
                    measured
                        .get(p)
                        .and_then(|runs| {
                            let values: Vec<f64> = runs.values().map(|m| m.per_second).collect();
                            spread(&values)
                        })
                        .map_or(String::new(), |s| human(s.median, unit))
                })
                .collect();
            let _ = writeln!(out, "| `{function}` | {} |", cells.join(" | "));
        }
        let alt = if CLAIMS.iter().any(|c| c.group == group) {
            "ratios of throughputs, median and spread of the runs, with the targets"
        } else {
            "throughput by size, linear scale from zero"
        };
        let _ = writeln!(out, "\n![{group}: {alt}](images/costs-{group}.svg)");
        let _ = writeln!(out, "<!-- ANCHOR_END: {group} -->\n");
    }
    for (anchor, parts) in [
        ("session_parts", session_parts(results)),
        ("decoding_parts", decoding_parts(results)),
    ] {
        if let Some(parts) = parts {
            let _ = writeln!(out, "<!-- ANCHOR: {anchor} -->");
            let _ = writeln!(out, "{parts}");
            let _ = writeln!(out, "<!-- ANCHOR_END: {anchor} -->\n");
        }
    }
    out
}

fn format_ratio(s: Spread) -> String {
    if s.count > 1 {
        format!("{:.2}x ({:.2}–{:.2})", s.median, s.low, s.high)
    } else {
        format!("{:.2}x", s.median)
    }
}

/// The ratios of the claims (of one group, or all), with targets.
fn claims_table(out: &mut String, results: &Results, only_group: Option<&str>) {
    let claims: Vec<&Claim> = CLAIMS
        .iter()
        .filter(|c| only_group.is_none_or(|g| g == c.group))
        .filter(|c| results.contains_key(c.group))
        .collect();
    if claims.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| lesson | comparison (ratio of throughputs) | by size | target | met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for claim in claims {
        let measured = claim_ratios(claim, &results[claim.group]);
        if measured.is_empty() {
            continue;
        }
        let mut cells = Vec::new();
        let mut verdicts = Vec::new();
        for (parameter, s, target) in measured {
            if let Some(min) = target {
                verdicts.push(verdict(s, min));
                cells.push(format!("{parameter}: **{}**", format_ratio(s)));
            } else {
                cells.push(format!("{parameter}: {}", format_ratio(s)));
            }
        }
        let target: Vec<String> = claim
            .targets
            .iter()
            .map(|(p, min)| match *p {
                "*" => format!(">= {min:.2}x"),
                p => format!(">= {min:.2}x at {p}"),
            })
            .collect();
        let target = target.join(", ");
        let verdict = if claim.targets.is_empty() {
            ""
        } else if verdicts.contains(&Verdict::Missed) {
            "**no**"
        } else if verdicts.contains(&Verdict::NotReliably) {
            "**not in every run**"
        } else {
            "yes, in every run"
        };
        let _ = writeln!(
            out,
            "| {} | {}: `{}` / `{}` | {} | {target} | {verdict} |",
            claim.lesson,
            claim.what,
            claim.ours,
            claim.theirs,
            cells.join(", ")
        );
    }
    let _ = writeln!(out);
}

/// The median time per item of `function` at `parameter` in `group`, in
/// nanoseconds.
fn nanos_per_item(results: &Results, group: &str, function: &str, parameter: &str) -> Option<f64> {
    let runs = results.get(group)?.get(function)?.get(parameter)?;
    let nanos: Vec<f64> = runs.values().map(|m| 1e9 / m.per_second).collect();
    spread(&nanos).map(|s| s.median)
}

/// A claim's ratio at each parameter both sides measured, with the target
/// at that parameter, if any.
fn claim_ratios(claim: &Claim, functions: &Functions) -> Vec<(String, Spread, Option<f64>)> {
    let (Some(ours), Some(theirs)) = (functions.get(claim.ours), functions.get(claim.theirs))
    else {
        return Vec::new();
    };
    parameters(functions)
        .into_iter()
        .filter_map(|parameter| {
            let s = ratios(ours.get(&parameter)?, theirs.get(&parameter)?)?;
            let target = claim
                .targets
                .iter()
                .find(|(p, _)| *p == "*" || *p == parameter)
                .map(|(_, t)| *t);
            Some((parameter, s, target))
        })
        .collect()
}

/// A table of median times per item in `group`, one row per parameter at
/// which all three `functions` were measured; `row` writes a row's cells
/// after the parameter from their three times, in nanoseconds.
fn times_table(
    results: &Results,
    group: &str,
    item: &str,
    header: &str,
    functions: [&str; 3],
    row: impl Fn([f64; 3]) -> String,
) -> Option<String> {
    let measured = results.get(group)?;
    let mut out = format!("{header}\n");
    let mut rows = 0;
    for parameter in parameters(measured) {
        let time = |function| nanos_per_item(results, group, function, &parameter);
        let (Some(a), Some(b), Some(c)) =
            (time(functions[0]), time(functions[1]), time(functions[2]))
        else {
            continue;
        };
        rows += 1;
        let _ = writeln!(out, "| {parameter} | {} |", row([a, b, c]));
    }
    (rows > 0).then(|| format!("Time per {item}, the median of the runs:\n\n{out}"))
}

/// Lesson 03's session, line by line: its time per line next to the bare
/// channel's and to its own reading and cutting without a channel.
fn session_parts(results: &Results) -> Option<String> {
    times_table(
        results,
        "session",
        "line",
        "| line | the session | the bare channel | reading and cutting alone |\n|---|---|---|---|",
        ["views", "raw_channel", "read_and_cut"],
        |[views, channel, cut]| format!("{views:.0} ns | {channel:.0} ns | {cut:.0} ns"),
    )
}

/// Lesson 04's decoders, frame by frame: the time each takes, the time of
/// copying the same bytes in alone, and what each does beyond that copy.
fn decoding_parts(results: &Results) -> Option<String> {
    times_table(
        results,
        "frame_decoding",
        "frame",
        "| frame | `frame_reader` | `length_delimited_codec` | copying the bytes alone | `frame_reader` beyond the copy | the codec beyond the copy |\n|---|---|---|---|---|---|",
        ["frame_reader", "length_delimited_codec", "copy_only"],
        |[ours, codec, copy]| {
            format!(
                "{ours:.1} ns | {codec:.1} ns | {copy:.1} ns | {:.1} ns | {:.1} ns",
                ours - copy,
                codec - copy
            )
        },
    )
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(0x2b, 0x6c, 0xb0),
    RGBColor(0xc0, 0x56, 0x21),
    RGBColor(0x2f, 0x85, 0x5a),
    RGBColor(0x6b, 0x46, 0xc1),
    RGBColor(0xb7, 0x79, 0x1f),
    RGBColor(0x71, 0x80, 0x96),
];
const TARGET: RGBColor = RGBColor(0xc5, 0x30, 0x30);
const INK: RGBColor = RGBColor(0x1a, 0x20, 0x2c);
const GRID: RGBColor = RGBColor(0x71, 0x80, 0x96);

/// A chart on `root` with a title, and room for labels on the left and
/// below: what both kinds of chart start from.
fn builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: String,
    left: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 16).into_font().color(&INK))
        .margin(12)
        .set_label_area_size(LabelAreaPosition::Left, left)
        .set_label_area_size(LabelAreaPosition::Bottom, 40);
    builder
}

/// The grid, the axis descriptions and the labels of every chart, drawn.
fn house_style<X, Y, DB>(mesh: &mut MeshStyle<'_, '_, X, Y, DB>) -> Result<(), String>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
    DB: DrawingBackend,
{
    mesh.bold_line_style(GRID.mix(0.25))
        .axis_desc_style(("sans-serif", 13).into_font().color(&INK))
        .label_style(("sans-serif", 12).into_font().color(&INK))
        .draw()
        .map_err(|e| e.to_string())
}

/// One row of a ratio chart: a comparison at one size.
struct Row {
    label: String,
    ratios: Spread,
    target: Option<f64>,
    colour: usize,
}

/// The group's comparisons as horizontal bars: the median ratio, a
/// whisker from the lowest to the highest run, a line at 1.0 (as fast as
/// the peer) and a red mark at each target.
fn ratio_chart(path: &Path, group: &str, results: &Results) -> Result<(), String> {
    let functions = &results[group];
    let mut rows = Vec::new();
    for (c, claim) in CLAIMS.iter().filter(|c| c.group == group).enumerate() {
        for (parameter, ratios, target) in claim_ratios(claim, functions) {
            rows.push(Row {
                label: format!("{} / {}, {parameter}", claim.ours, claim.theirs),
                ratios,
                target,
                colour: c,
            });
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let highest = rows
        .iter()
        .map(|r| r.ratios.high.max(r.target.unwrap_or(0.0)))
        .fold(1.0_f64, f64::max);
    let x_max = (highest * 1.1 * 10.0).ceil() / 10.0;
    let n = rows.len();
    let height = 90 + 34 * n as u32;
    let root = SVGBackend::new(path, (760, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!("{group}: ratio of throughputs (higher is better for the first)");
    let mut chart = builder(&root, title, 300)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_y_mesh()
        .disable_y_axis()
        .y_labels(0)
        .x_desc("ratio of throughputs; 1.0 = as fast as the peer")
        .x_label_formatter(&|x| format!("{x:.1}x"))
        .light_line_style(WHITE);
    house_style(&mut mesh)?;
    // Row i is drawn from the top: its band is [n - i - 1, n - i].
    let band = |i: usize| (n - i - 1) as f64;
    chart
        .draw_series(rows.iter().enumerate().map(|(i, row)| {
            let mut bar = Rectangle::new(
                [(0.0, band(i) + 0.2), (row.ratios.median, band(i) + 0.8)],
                COLOURS[row.colour % COLOURS.len()].mix(0.85).filled(),
            );
            bar.set_margin(0, 0, 0, 0);
            bar
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter(|(_, r)| r.ratios.count > 1)
                .map(|(i, row)| {
                    ErrorBar::new_horizontal(
                        band(i) + 0.5,
                        row.ratios.low,
                        row.ratios.median,
                        row.ratios.high,
                        INK.stroke_width(1),
                        8,
                    )
                }),
        )
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            INK.stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, row)| {
            row.target.map(|t| {
                PathElement::new(
                    vec![(t, band(i) + 0.05), (t, band(i) + 0.95)],
                    TARGET.stroke_width(3),
                )
            })
        }))
        .map_err(|e| e.to_string())?;
    let label_style = ("monospace", 12)
        .into_font()
        .color(&INK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let value_style = ("sans-serif", 12)
        .into_font()
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, row) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, band(i) + 0.5));
        root.draw(&Text::new(
            row.label.clone(),
            (x - 8, y),
            label_style.clone(),
        ))
        .map_err(|e| e.to_string())?;
        let (x, y) = chart.backend_coord(&(row.ratios.high, band(i) + 0.5));
        let mut value = format!("{:.2}x", row.ratios.median);
        if let Some(t) = row.target {
            let _ = write!(value, " (target {t:.2}x)");
        }
        root.draw(&Text::new(value, (x + 10, y), value_style.clone()))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// A group with no comparison: the median throughput of each design at
/// each size, as bars on a linear axis from zero.
fn throughput_chart(path: &Path, group: &str, functions: &Functions) -> Result<(), String> {
    let params = parameters(functions);
    let unit = unit_of(functions);
    let names: Vec<&String> = functions.keys().collect();
    let median = |name: &String, parameter: &String| {
        functions[name]
            .get(parameter)
            .and_then(|runs| spread(&runs.values().map(|m| m.per_second).collect::<Vec<_>>()))
    };
    let highest = names
        .iter()
        .flat_map(|name| params.iter().filter_map(|p| median(name, p)))
        .map(|s| s.high)
        .fold(0.0_f64, f64::max);
    if highest <= 0.0 {
        return Ok(());
    }
    // Scale the axis to a readable unit: the bars stay linear from zero.
    let (scale, prefix) = match highest {
        v if v >= 1e9 => (1e9, "G"),
        v if v >= 1e6 => (1e6, "M"),
        v if v >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let unit_name = match unit {
        Unit::Bytes => format!("{prefix}B per second"),
        Unit::Items => format!("{prefix} items per second").trim().to_owned(),
        Unit::Runs => format!("{prefix} runs per second").trim().to_owned(),
    };
    let y_max = highest / scale * 1.15;
    let slots = (params.len() * names.len()).max(1);
    let root = SVGBackend::new(path, (760, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!("{group}: throughput (higher is better)");
    let mut chart = builder(&root, title, 70)
        .build_cartesian_2d(0.0..slots as f64, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .y_desc(unit_name)
        .light_line_style(WHITE);
    house_style(&mut mesh)?;
    let label_style = ("monospace", 12)
        .into_font()
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, parameter) in params.iter().enumerate() {
        for (j, name) in names.iter().enumerate() {
            let Some(s) = median(name, parameter) else {
                continue;
            };
            let x = (i * names.len() + j) as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.15, 0.0), (x + 0.85, s.median / scale)],
                    COLOURS[j % COLOURS.len()].mix(0.85).filled(),
                )))
                .map_err(|e| e.to_string())?;
            let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
            root.draw(&Text::new(
                format!("{name} {parameter}"),
                (px, py + 6),
                label_style.clone(),
            ))
            .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(per_second: f64) -> Measured {
        Measured {
            per_second,
            unit: Unit::Items,
        }
    }

    #[test]
    fn the_median_of_an_odd_and_of_an_even_count() {
        let s = spread(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.low, s.high, s.count), (2.0, 1.0, 3.0, 3));
        let s = spread(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.low, s.high, s.count), (2.5, 1.0, 4.0, 4));
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[f64::NAN, 1.0]).map(|s| s.count), Some(1));
    }

    #[test]
    fn ratios_pair_the_runs_that_measured_both() {
        let ours = BTreeMap::from([
            ("run-1".to_owned(), measured(80.0)),
            ("run-2".to_owned(), measured(90.0)),
            ("run-3".to_owned(), measured(50.0)),
        ]);
        // run-3 is not measured for theirs: it does not count.
        let theirs = BTreeMap::from([
            ("run-1".to_owned(), measured(100.0)),
            ("run-2".to_owned(), measured(100.0)),
        ]);
        let s = ratios(&ours, &theirs).unwrap();
        assert_eq!(s.count, 2);
        assert!((s.low - 0.8).abs() < 1e-9 && (s.high - 0.9).abs() < 1e-9);
        assert!((s.median - 0.85).abs() < 1e-9);
    }

    #[test]
    fn a_target_is_met_only_when_every_run_meets_it() {
        let all = Spread {
            median: 0.9,
            low: 0.85,
            high: 0.95,
            count: 5,
        };
        assert_eq!(verdict(all, 0.85), Verdict::Met);
        assert_eq!(verdict(all, 0.86), Verdict::NotReliably);
        assert_eq!(verdict(all, 0.9), Verdict::NotReliably);
        assert_eq!(verdict(all, 0.91), Verdict::Missed);
    }

    #[test]
    fn sizes_sort_as_sizes() {
        let mut sizes = vec!["1KiB", "64B", "1MiB", "64KiB", "256B"];
        sizes.sort_by_key(|p| size_key(p));
        assert_eq!(sizes, ["64B", "256B", "1KiB", "64KiB", "1MiB"]);
        let mut counts = vec!["16", "1", "64", "4"];
        counts.sort_by_key(|p| size_key(p));
        assert_eq!(counts, ["1", "4", "16", "64"]);
    }

    #[test]
    fn saved_runs_are_read_and_new_is_ignored_beside_them() {
        let dir = std::env::temp_dir().join(format!("costs-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |run: &str, function: &str, nanos: f64| {
            let at = dir.join("g").join(function).join("1k").join(run);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(
                at.join("benchmark.json"),
                format!(
                    r#"{{"group_id":"g","function_id":"{function}","value_str":"1k","throughput":{{"Elements":1000}}}}"#
                ),
            )
            .unwrap();
            std::fs::write(
                at.join("estimates.json"),
                format!(r#"{{"mean":{{"point_estimate":{nanos}}}}}"#),
            )
            .unwrap();
        };
        write("new", "a", 1e6);
        let results = read_results(&dir);
        assert_eq!(run_names(&results), ["new"], "no saved run: the last one");
        write("run-1", "a", 1e6);
        write("run-2", "a", 2e6);
        let results = read_results(&dir);
        assert_eq!(run_names(&results), ["run-1", "run-2"]);
        let runs = &results["g"]["a"]["1k"];
        // 1000 items in 1 ms: a million a second.
        assert!((runs["run-1"].per_second - 1e6).abs() < 1e-3);
        assert!((runs["run-2"].per_second - 5e5).abs() < 1e-3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
