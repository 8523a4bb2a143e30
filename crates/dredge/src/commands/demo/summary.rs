//! The closing table: per job its vendor, run state, records, snoozes honoured,
//! retries, dead items with reasons, the output file and its exactly-once check.

use super::check::Verdict;
use super::counters::Counters;
use super::follow::Tracked;
use crate::protocol::DeadItemInfo;

/// Dead items shown per job; the rest are counted.
const DEAD_SHOWN: usize = 3;

/// What the summary shows of one job beyond its run.
pub(super) struct Outcome<'a> {
    pub tracked: &'a Tracked,
    pub dead: Vec<DeadItemInfo>,
    pub verdict: Option<Verdict>,
}

pub(super) fn render(outcomes: &[Outcome], counters: &Counters) -> String {
    let headers = [
        "JOB", "VENDOR", "STATE", "RECORDS", "SNOOZES", "POLLS", "RETRIES", "TOKENS", "DEAD",
    ];
    let rows: Vec<Vec<String>> = outcomes.iter().map(|o| table_row(o, counters)).collect();
    let mut out = table(&headers, &rows);
    out += "\nSNOOZES: waits the vendor asked for and dredge honoured (domain occupied, 429 Retry-After);\n\
            POLLS: \"not ready yet\" answers polled again later (WDS 202, Oxylabs pending);\n\
            RETRIES: transient failures retried with backoff; TOKENS: access tokens refreshed.\n\
            A run with dead items ends \"failed\": everything else it had was written.\n";
    for o in outcomes {
        out += &details(o);
    }
    out
}

fn table_row(o: &Outcome, counters: &Counters) -> Vec<String> {
    let job = &o.tracked.job;
    let mut row = vec![job.name.to_string(), job.vendor.to_string()];
    if let Some(why) = &o.tracked.unavailable {
        row.push(why.clone());
        return row;
    }
    let Some(run) = &o.tracked.run else {
        row.push("no run".into());
        return row;
    };
    let c = counters.vendor(job.vendor);
    row.extend([
        run.state.clone(),
        run.records.to_string(),
        c.snoozes.to_string(),
        c.polls.to_string(),
        c.retries.to_string(),
        c.token_refreshes.to_string(),
        run.items.dead.to_string(),
    ]);
    row
}

/// Dead items with reasons, the output path and the check, under the job's name.
fn details(o: &Outcome) -> String {
    let Some(run) = &o.tracked.run else {
        return String::new();
    };
    let mut out = format!("\n{} ({})\n", o.tracked.job.name, o.tracked.job.vendor);
    out += &format!("  output: {}\n", run.output);
    for d in o.dead.iter().take(DEAD_SHOWN) {
        out += &format!("  dead:   {}: {}\n", d.what, one_line(&d.error));
    }
    if o.dead.len() > DEAD_SHOWN {
        out += &format!(
            "          … and {} more (dredge dead {})\n",
            o.dead.len() - DEAD_SHOWN,
            o.tracked.job.name
        );
    }
    if let Some(v) = &o.verdict {
        out += &format!("  {}\n", v.text);
    }
    out
}

fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// Columns padded to their widest cell, two spaces apart; no trailing spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line: String = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}  "))
            .collect();
        out += line.trim_end();
        out.push('\n');
    }
    out
}
