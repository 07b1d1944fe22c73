//! `cargo run -p benches --example report`: turns the results of the last
//! `cargo bench -p benches` into the costs chapter's data. For every bench
//! group it writes a chart, `book/src/images/costs-<group>.svg` (throughput
//! by size, one bar per design, log scale), and it writes the tables of
//! throughputs and ratios, with the targets and whether they are met, to
//! `book/src/costs-results.md`, which the chapter includes. Nothing in
//! either file is written by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A claim the chapter makes: `ours` against `theirs` in `group`, as a
/// ratio of throughputs, with the target the issue set (if any).
struct Claim {
    lesson: &'static str,
    group: &'static str,
    ours: &'static str,
    theirs: &'static str,
    /// The lowest acceptable ratio of throughputs, per parameter (`"*"`:
    /// every parameter); empty when the issue set no target.
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
        // The issue's target is absolute (0.8 M snapshots/s on 2 cores): it
        // is the feed's row in the table of every measurement below.
        targets: &[],
        what: "the snapshot feed behind tonic, against ready-made snapshots on the same server and client",
    },
];

/// One measured benchmark: throughput in items (or bytes) per second.
struct Measured {
    per_second: f64,
    unit: &'static str,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Where the benches saved their results: `.cargo/config.toml` sets
    // CRITERION_HOME for every process cargo runs, this one included.
    let criterion = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir(&root).join("criterion"));
    let results = read_results(&criterion);
    if results.is_empty() {
        eprintln!(
            "no results in {}: run `cargo bench -p benches` first",
            criterion.display()
        );
        std::process::exit(1);
    }
    let images = root.join("book/src/images");
    for (group, functions) in &results {
        let svg = chart(group, functions);
        let path = images.join(format!("costs-{group}.svg"));
        std::fs::write(&path, svg).expect("the chart is written");
        println!("wrote {}", path.display());
    }
    let markdown = tables(&results);
    let path = root.join("book/src/costs-results.md");
    std::fs::write(&path, markdown).expect("the tables are written");
    println!("wrote {}", path.display());
}

/// group -> function -> parameter -> measured
type Results = BTreeMap<String, BTreeMap<String, BTreeMap<String, Measured>>>;

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn read_results(criterion: &Path) -> Results {
    let mut results = Results::new();
    let mut pending = vec![criterion.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir()
                && path
                    .file_name()
                    .is_some_and(|n| n != "report" && n != "base")
            {
                pending.push(path);
            } else if path.ends_with("new/benchmark.json")
                && let Some((group, function, parameter, measured)) = read_one(&path)
            {
                results
                    .entry(group)
                    .or_default()
                    .entry(function)
                    .or_default()
                    .insert(parameter, measured);
            }
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
        Value::Object(map) if map.contains_key("Elements") => (map["Elements"].as_f64()?, "items"),
        Value::Object(map) if map.contains_key("Bytes") => (map["Bytes"].as_f64()?, "bytes"),
        _ => (1.0, "runs"),
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

fn parameters(functions: &BTreeMap<String, BTreeMap<String, Measured>>) -> Vec<String> {
    let mut all: Vec<String> = functions.values().flat_map(|p| p.keys().cloned()).collect();
    all.sort_by_key(|p| size_key(p));
    all.dedup();
    all
}

fn human(per_second: f64, unit: &str) -> String {
    let (value, prefix) = match per_second {
        v if v >= 1e9 => (v / 1e9, "G"),
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    let unit = if unit == "bytes" { "B" } else { "" };
    format!("{value:.3} {prefix}{unit}/s")
}

fn tables(results: &Results) -> String {
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    let measured = format!(
        "Measured on {date}, {cores} cores, {rustc}: `cargo bench -p benches`, then \
         `cargo run -p benches --example report`."
    );
    let _ = writeln!(
        out,
        "<!-- Written by `cargo run -p benches --example report` from the last \
         `cargo bench -p benches`. Do not edit: run it again. -->\n"
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
        let _ = writeln!(out, "`{group}`, throughput (higher is better):\n");
        let _ = writeln!(out, "| design | {} |", params.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(params.len()));
        for (function, measured) in functions {
            let cells: Vec<String> = params
                .iter()
                .map(|p| {
                    measured
                        .get(p)
                        .map_or(String::new(), |m| human(m.per_second, m.unit))
                })
                .collect();
            let _ = writeln!(out, "| `{function}` | {} |", cells.join(" | "));
        }
        let _ = writeln!(
            out,
            "\n![{group}: throughput by size, log scale](images/costs-{group}.svg)"
        );
        let _ = writeln!(out, "<!-- ANCHOR_END: {group} -->\n");
    }
    out
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
        let functions = &results[claim.group];
        let (Some(ours), Some(theirs)) = (functions.get(claim.ours), functions.get(claim.theirs))
        else {
            continue;
        };
        let mut ratios = Vec::new();
        let mut met = true;
        for parameter in parameters(functions) {
            let (Some(a), Some(b)) = (ours.get(&parameter), theirs.get(&parameter)) else {
                continue;
            };
            let ratio = a.per_second / b.per_second;
            let target = claim
                .targets
                .iter()
                .find(|(p, _)| *p == "*" || *p == parameter);
            if let Some((_, min)) = target {
                met &= ratio >= *min;
                ratios.push(format!("{parameter}: **{ratio:.2}x**"));
            } else {
                ratios.push(format!("{parameter}: {ratio:.2}x"));
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
        let verdict = match (claim.targets.is_empty(), met) {
            (true, _) => "",
            (false, true) => "yes",
            (false, false) => "**no**",
        };
        let _ = writeln!(
            out,
            "| {} | {}: `{}` / `{}` | {} | {target} | {verdict} |",
            claim.lesson,
            claim.what,
            claim.ours,
            claim.theirs,
            ratios.join(", ")
        );
    }
    let _ = writeln!(out);
}

const COLOURS: [&str; 6] = [
    "#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#718096",
];

/// A grouped bar chart on a log scale: one group of bars per parameter,
/// one bar per design.
fn chart(group: &str, functions: &BTreeMap<String, BTreeMap<String, Measured>>) -> String {
    let params = parameters(functions);
    let names: Vec<&String> = functions.keys().collect();
    let unit = functions
        .values()
        .flat_map(|p| p.values())
        .next()
        .map_or("items", |m| m.unit);
    let values: Vec<f64> = functions
        .values()
        .flat_map(|p| p.values().map(|m| m.per_second))
        .collect();
    let low = values
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let high = values
        .iter()
        .cloned()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(low + 1.0);

    let (width, height) = (760.0, 380.0);
    let (left, right, top, bottom) = (90.0, 20.0, 40.0, 90.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - (v.log10() - low) / (high - low));

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="t">"##
    );
    let _ = writeln!(
        svg,
        r##"<title id="t">{group}: {unit} per second by size, log scale</title>"##
    );
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="22" font-family="sans-serif" font-size="14" font-weight="bold" fill="#1a202c">{group}: {unit} per second (log scale, higher is better)</text>"##
    );
    let mut decade = low;
    while decade <= high + 1e-9 {
        let v = 10f64.powf(decade);
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e2e8f0"/>"##,
            width - right
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="12" fill="#4a5568" text-anchor="end">{}</text>"##,
            left - 8.0,
            yy + 4.0,
            human(v, unit).replace(".000", "")
        );
        decade += 1.0;
    }
    let slot = plot_w / params.len().max(1) as f64;
    let bar = (slot * 0.8 / names.len().max(1) as f64).min(48.0);
    for (i, parameter) in params.iter().enumerate() {
        let start = left + slot * i as f64 + (slot - bar * names.len() as f64) / 2.0;
        for (j, name) in names.iter().enumerate() {
            let Some(m) = functions[*name].get(parameter) else {
                continue;
            };
            let x = start + bar * j as f64;
            let top_y = y(m.per_second);
            let _ = writeln!(
                svg,
                r##"<rect x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{name} {parameter}: {}</title></rect>"##,
                bar - 2.0,
                top + plot_h - top_y,
                COLOURS[j % COLOURS.len()],
                human(m.per_second, m.unit)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-family="monospace" font-size="13" fill="#1a202c" text-anchor="middle">{parameter}</text>"##,
            left + slot * (i as f64 + 0.5),
            top + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#4a5568"/>"##,
        top + plot_h,
        width - right,
        top + plot_h
    );
    let mut lx = left;
    let ly = height - 28.0;
    for (j, name) in names.iter().enumerate() {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/>"##,
            ly - 10.0,
            COLOURS[j % COLOURS.len()]
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{ly:.1}" font-family="monospace" font-size="13" fill="#1a202c">{name}</text>"##,
            lx + 18.0
        );
        lx += 30.0 + 8.0 * name.len() as f64;
    }
    svg.push_str("</svg>\n");
    svg
}
