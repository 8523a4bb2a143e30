//! Showing the runs while they go: one indicatif bar per job on a terminal, or a
//! plain line per job every few seconds when the output is a file or a pipe (where
//! indicatif would hide its bars). Colours only when `NO_COLOR` is unset.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::counters::VendorCounts;
use crate::protocol::RunSummary;

/// How often plain progress lines are printed.
const PLAIN_EVERY: Duration = Duration::from_secs(3);

/// One job as the progress display sees it.
pub(super) struct Row<'a> {
    pub job: &'a str,
    pub vendor: &'a str,
    pub expected: u64,
    pub run: Option<&'a RunSummary>,
    pub counts: VendorCounts,
    /// Why the job does not run in this build, if it does not.
    pub unavailable: Option<&'a str>,
}

pub(super) enum Display {
    Bars {
        multi: MultiProgress,
        bars: Vec<ProgressBar>,
    },
    Plain {
        started: Instant,
        last: Option<Instant>,
    },
}

impl Display {
    /// Bars when stdout is a terminal, plain lines otherwise.
    pub(super) fn new(jobs: usize) -> Display {
        if !std::io::stdout().is_terminal() {
            return Display::Plain {
                started: Instant::now(),
                last: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let bars = (0..jobs)
            .map(|_| multi.add(ProgressBar::new(0).with_style(style())))
            .collect();
        Display::Bars { multi, bars }
    }

    /// A line above the bars (or just a line).
    pub(super) fn note(&self, line: &str) {
        match self {
            Display::Bars { multi, .. } => {
                if multi.println(line).is_err() {
                    println!("{line}");
                }
            }
            Display::Plain { .. } => println!("{line}"),
        }
    }

    pub(super) fn update(&mut self, rows: &[Row]) {
        match self {
            Display::Bars { bars, .. } => {
                for (bar, row) in bars.iter().zip(rows) {
                    draw(bar, row);
                }
            }
            Display::Plain { started, last } => {
                if last.is_some_and(|t| t.elapsed() < PLAIN_EVERY) {
                    return;
                }
                *last = Some(Instant::now());
                let at = started.elapsed().as_secs_f64();
                for row in rows {
                    println!(
                        "[{at:5.1}s] {:<14} {:<12} {}",
                        row.job,
                        row.vendor,
                        plain(row)
                    );
                }
            }
        }
    }

    /// Final state of every job; bars stay on screen.
    pub(super) fn finish(&mut self, rows: &[Row]) {
        match self {
            Display::Bars { bars, .. } => {
                for (bar, row) in bars.iter().zip(rows) {
                    draw(bar, row);
                    // `finish` would move the bar to its end; a run with dead items
                    // did not get there.
                    bar.abandon();
                }
            }
            Display::Plain { last, .. } => {
                *last = None;
                self.update(rows);
            }
        }
    }
}

fn style() -> ProgressStyle {
    let template = if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        "{prefix:14} [{bar:20}] {pos:>5}/{len:<5} {wide_msg}"
    } else {
        "{prefix:14.bold} [{bar:20.cyan/blue}] {pos:>5}/{len:<5} {wide_msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn draw(bar: &ProgressBar, row: &Row) {
    bar.set_prefix(row.job.to_string());
    bar.set_length(row.expected);
    bar.set_position(row.run.map_or(0, |r| r.records.min(row.expected)));
    bar.set_message(detail(row));
}

/// The plain line: records of expected, then the details.
fn plain(row: &Row) -> String {
    let records = row.run.map_or(0, |r| r.records);
    format!("{records:>5}/{:<5} records  {}", row.expected, detail(row))
}

/// Items, waits, retries, dead items and the run's state.
fn detail(row: &Row) -> String {
    if let Some(why) = row.unavailable {
        return why.to_string();
    }
    let Some(run) = row.run else {
        return "waiting for its run to start".into();
    };
    let i = run.items;
    let total = i.ready + i.leased + i.snoozed + i.staged + i.done + i.dead;
    let c = row.counts;
    let mut text = format!("{} · items {}/{total}", run.state, i.done + i.dead);
    // Only what happened: a zero says nothing while the bars move.
    let counts = [
        (c.snoozes, "snoozes"),
        (c.polls, "polls"),
        (c.retries, "retries"),
        (c.token_refreshes, "token refreshes"),
        (i.dead, "dead"),
    ];
    for (n, what) in counts.into_iter().filter(|(n, _)| *n > 0) {
        text += &format!(" · {n} {what}");
    }
    text
}
