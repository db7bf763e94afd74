//! The benchmark report: runs every scenario side by side, several times, and writes its
//! tables (medians, spread, ratios) into benches/README.md, between the report's markers,
//! and `benches/report.svg` (a chart of the same medians, Inlet beside its baseline).
//!
//! cargo build --release -p inlet-bench --bins && target/release/report [RUNS]
//!
//! Each run goes through every program once, one after another, on this machine:
//! `inlet-bench` (bare hyper, noop, HMAC, GitHub plugin, REST API) at 1, 64 and 256
//! clients; `kafka_drain` and `kafka_deliver` against librdkafka's mock cluster; and the SQS
//! and Pub/Sub drains when `SQS_ENDPOINT` / `PUBSUB_ENDPOINT` name a running server (moto,
//! the Pub/Sub emulator). The programs are the sibling executables of this one, so build
//! them all first.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use inlet_bench::numeric_args;

/// One program run: the group its rows belong to, the executable, its arguments.
struct Program {
    group: &'static str,
    executable: &'static str,
    args: Vec<String>,
}

/// The measured rows in the order the programs printed them: (group, scenario) → the rates
/// of every run.
type Rates = Vec<((String, String), Vec<f64>)>;

/// The runs of one row.
fn row<'a>(rates: &'a Rates, group: &str, scenario: &str) -> Option<&'a Vec<f64>> {
    rates
        .iter()
        .find(|((g, s), _)| g == group && s == scenario)
        .map(|(_, values)| values)
}

fn main() {
    let [runs] = numeric_args([3]);
    let here = std::env::current_exe().expect("the report's own path");
    let dir = here.parent().expect("the report's directory").to_path_buf();
    let programs = programs();
    let mut rates = Rates::new();
    for run in 1..=runs {
        for program in &programs {
            eprintln!(
                "run {run}/{runs}: {} {}",
                program.executable,
                program.args.join(" ")
            );
            let output = run_program(&dir, program);
            for (scenario, rate) in parse(&output) {
                let key = (program.group.to_string(), scenario);
                match rates.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, values)) => values.push(rate),
                    None => rates.push((key, vec![rate])),
                }
            }
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let markdown = markdown(&rates, runs, load.split_whitespace().next().unwrap_or("?"));
    let readme = out.join("README.md");
    let text = std::fs::read_to_string(&readme).expect("reading benches/README.md");
    std::fs::write(&readme, between_markers(&text, &markdown)).expect("writing benches/README.md");
    std::fs::write(out.join("report.svg"), chart(&rates)).expect("writing benches/report.svg");
    print!("{markdown}");
    eprintln!("wrote the report's tables into benches/README.md, and benches/report.svg");
}

fn programs() -> Vec<Program> {
    let program = |group, executable, args: &[&str]| Program {
        group,
        executable,
        args: args.iter().map(|a| a.to_string()).collect(),
    };
    let mut programs = vec![
        program(
            "HTTP ingest, 1 client",
            "inlet-bench",
            &["3000", "1", "1024"],
        ),
        program(
            "HTTP ingest, 64 clients",
            "inlet-bench",
            &["20000", "64", "1024"],
        ),
        program(
            "HTTP ingest, 256 clients",
            "inlet-bench",
            &["20000", "256", "1024"],
        ),
        program("Kafka drain", "kafka_drain", &["100000", "1024", "32", "4"]),
        program("Kafka delivery", "kafka_deliver", &["20000", "1024", "32"]),
    ];
    if std::env::var_os("SQS_ENDPOINT").is_some() {
        programs.push(program("SQS drain", "sqs_drain", &[]));
    }
    if std::env::var_os("PUBSUB_ENDPOINT").is_some() {
        programs.push(program("Pub/Sub drain", "pubsub_drain", &[]));
    }
    programs
}

fn run_program(dir: &Path, program: &Program) -> String {
    let path: PathBuf = dir.join(program.executable);
    let output = Command::new(&path)
        .args(&program.args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (build every bench first): {e}",
                path.display()
            )
        });
    assert!(
        output.status.success(),
        "{} failed: {}",
        program.executable,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The rates a program printed: its table rows (`scenario  req/s  p50  p99  max`) and its
/// `label: N msg/s` or `label: N events/s` lines.
fn parse(output: &str) -> Vec<(String, f64)> {
    let mut rows = Vec::new();
    for line in output.lines() {
        if let Some((label, rest)) = line.split_once(": ") {
            let mut words = rest.split_whitespace();
            if let (Some(number), Some("msg/s" | "msg/s," | "events/s" | "events/s,")) =
                (words.next(), words.next())
                && let Ok(rate) = number.parse::<f64>()
            {
                rows.push((label.trim().trim_end_matches(':').to_string(), rate));
            }
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 4 {
            let (name, numbers) = words.split_at(words.len() - 4);
            if let Ok(rate) = numbers[0].parse::<f64>()
                && numbers[1..].iter().all(|n| n.parse::<f64>().is_ok())
            {
                rows.push((name.join(" "), rate));
            }
        }
    }
    rows
}

const BEGIN: &str = "<!-- report: begin -->\n";
const END: &str = "<!-- report: end -->";

/// The README with what is between the report's markers replaced by `report`.
fn between_markers(readme: &str, report: &str) -> String {
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!(
            "benches/README.md has lost the report's markers ({BEGIN:?} … {END:?}): put them back where the report goes"
        );
    };
    format!("{}{BEGIN}{report}{}", &readme[..begin], &readme[end..])
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn spread(values: &[f64]) -> (f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    (low, high)
}

/// What each Inlet figure is compared with: (group, Inlet's row, the baseline's row, target).
const RATIOS: &[(&str, &str, &str, Option<f64>)] = &[
    (
        "HTTP ingest, 64 clients",
        "ingest hmac-sha256",
        "bare hyper",
        Some(0.6),
    ),
    (
        "HTTP ingest, 64 clients",
        "ingest github plugin",
        "ingest hmac-sha256",
        Some(0.85),
    ),
    (
        "HTTP ingest, 256 clients",
        "ingest hmac-sha256",
        "bare hyper",
        None,
    ),
    (
        "Kafka drain",
        "inlet kafka source (store, then commit)",
        "plain rdkafka consumer (consume + commit)",
        None,
    ),
    (
        "Kafka delivery",
        "Inlet, delivering them",
        "plain producer, unbounded",
        Some(0.5),
    ),
    (
        "SQS drain",
        "inlet sqs source (store, then delete)",
        "plain aws-sdk-sqs (receive + delete)",
        None,
    ),
    (
        "Pub/Sub drain",
        "inlet google source (store, then ack)",
        "plain streaming pull (ack only)",
        None,
    ),
];

fn markdown(rates: &Rates, runs: usize, load: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Written by `report {runs}` (benches/src/bin/report.rs): every \
         scenario run {runs} times, one after another, on one machine; medians, and the lowest \
         and highest run (load average {load} when it started, {cores} cores). Rates are \
         requests, messages or deliveries per second.\n\n\
         ![events/s by scenario, Inlet beside its baseline](report.svg)\n"
    );
    let mut group = "";
    for ((row_group, scenario), values) in rates {
        if row_group != group {
            group = row_group;
            let _ = writeln!(
                out,
                "\n### {group}\n\n| scenario | median | lowest – highest |\n| --- | --- | --- |"
            );
        }
        let (low, high) = spread(values);
        let _ = writeln!(
            out,
            "| {scenario} | {:.0} | {low:.0} – {high:.0} |",
            median(values)
        );
    }
    let _ = writeln!(
        out,
        "\n### Ratios (of medians)\n\n| group | Inlet | baseline | ratio | target |\n| --- | --- | --- | --- | --- |"
    );
    for (group, inlet, baseline, target) in RATIOS {
        if let (Some(a), Some(b)) = (row(rates, group, inlet), row(rates, group, baseline)) {
            let target = target.map_or("—".to_string(), |t| format!("≥ {t}"));
            let _ = writeln!(
                out,
                "| {group} | {inlet} | {baseline} | {:.3} | {target} |",
                median(a) / median(b)
            );
        }
    }
    out
}

/// A horizontal bar per row, log-scaled, with the run-to-run spread as a whisker; baseline
/// rows (bare servers, plain clients, RocksDB alone) grey, Inlet's blue.
fn chart(rates: &Rates) -> String {
    const WIDTH: f64 = 980.0;
    const LABEL: f64 = 380.0;
    const BAR: f64 = 18.0;
    const GAP: f64 = 6.0;
    let heading = 26.0;
    let groups = rates
        .iter()
        .map(|((g, _), _)| g)
        .collect::<std::collections::BTreeSet<_>>();
    let height = 40.0 + rates.len() as f64 * (BAR + GAP) + groups.len() as f64 * heading;
    let max = rates
        .iter()
        .flat_map(|(_, values)| values)
        .copied()
        .fold(1.0, f64::max);
    let (decades_low, decades_high) = (2.0_f64, max.log10().ceil());
    let x = |rate: f64| {
        LABEL
            + (rate.max(100.0).log10() - decades_low) / (decades_high - decades_low)
                * (WIDTH - LABEL - 80.0)
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n"
    );
    let mut decade = decades_low;
    while decade <= decades_high {
        let at = x(10f64.powf(decade));
        let _ = writeln!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"20\" x2=\"{at:.1}\" y2=\"{height}\" stroke=\"#ddd\"/>\
             <text x=\"{at:.1}\" y=\"14\" text-anchor=\"middle\">1e{decade}/s</text>"
        );
        decade += 1.0;
    }
    let mut y = 30.0;
    let mut group = "";
    for ((row_group, scenario), values) in rates {
        if row_group != group {
            group = row_group;
            y += heading;
            let _ = writeln!(
                svg,
                "<text x=\"4\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
                y - 8.0,
                escape(group)
            );
        }
        let baseline = ["bare", "plain", "RocksDB alone", "ceiling"]
            .iter()
            .any(|b| scenario.starts_with(b));
        let colour = if baseline { "#999" } else { "#2a6fdb" };
        let (low, high) = spread(values);
        let middle = median(values);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR}\" fill=\"{colour}\"/>\
             <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{middle:.0}</text>",
            LABEL - 6.0,
            y + BAR - 5.0,
            escape(scenario),
            (x(middle) - LABEL).max(1.0),
            x(low),
            y + BAR / 2.0,
            x(high),
            y + BAR / 2.0,
            x(high) + 4.0,
            y + BAR - 5.0,
        );
        y += BAR + GAP;
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_labelled_rates_are_read_and_the_rest_ignored() {
        let output = "20000 requests, 64 concurrent clients, 1009 byte bodies, loopback\n\
            scenario                    req/s     p50 ms     p99 ms     max ms\n\
            bare hyper                  59742       0.74       2.50      63.11\n\
            ingest github plugin         7195       8.46      18.92      44.09\n\
            ratio hmac-sha256 / bare hyper: 0.39 (target >= 0.6)\n\
            plain producer, unbounded:      307402 msg/s,   6.1 µs CPU/msg\n\
            Inlet, delivering them:           8785 events/s, 102.9 µs CPU/event\n";
        assert_eq!(
            parse(output),
            vec![
                ("bare hyper".to_string(), 59742.0),
                ("ingest github plugin".to_string(), 7195.0),
                ("plain producer, unbounded".to_string(), 307402.0),
                ("Inlet, delivering them".to_string(), 8785.0),
            ]
        );
    }

    #[test]
    fn the_report_replaces_only_what_is_between_its_markers() {
        let readme = format!("# Benchmarks\n{BEGIN}old\n{END}\n## After\n");
        assert_eq!(
            between_markers(&readme, "new\n"),
            format!("# Benchmarks\n{BEGIN}new\n{END}\n## After\n")
        );
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
