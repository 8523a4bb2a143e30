//! Reading each run's output back and checking "exactly once" (README "Output"): every line
//! whole and JSON, `seq` contiguous, as many lines as the daemon says it wrote, and
//! every input once — by `source` for URL/query/page jobs, and against the
//! simulator's ledger of handed-out rows for the Octoparse drain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::scenario::Expect;
use crate::protocol::{DeadItemInfo, RunSummary};

/// A check's result, as printed.
#[derive(Debug, Clone)]
pub(super) struct Verdict {
    pub ok: bool,
    pub text: String,
}

/// Check one ended run's output. `ledger` is the Octoparse simulator's row keys.
pub(super) fn check(
    expect: &Expect,
    run: &RunSummary,
    dead: &[DeadItemInfo],
    ledger: &[String],
) -> Verdict {
    let lines = match read_lines(Path::new(&run.output)) {
        Ok(lines) => lines,
        Err(problem) => return fail(vec![problem]),
    };
    let mut problems = file_problems(run, &lines);
    problems.extend(match expect {
        Expect::Inputs(inputs) => input_problems(inputs, &lines, dead),
        Expect::Pages => duplicates(&sources(&lines)),
        Expect::Ledger => ledger_problems(ledger, &lines),
    });
    if problems.is_empty() {
        Verdict {
            ok: true,
            text: format!(
                "exactly once: ok ({} records, {} dead items)",
                lines.len(),
                dead.len()
            ),
        }
    } else {
        fail(problems)
    }
}

fn fail(problems: Vec<String>) -> Verdict {
    Verdict {
        ok: false,
        text: format!("exactly once: FAILED: {}", problems.join("; ")),
    }
}

fn read_lines(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!("{} ends with a torn line", path.display()));
    }
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| format!("line {} is not JSON: {e}", i + 1))
        })
        .collect()
}

/// The file as a whole: renamed, line count, contiguous `seq`.
fn file_problems(run: &RunSummary, lines: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    if run.output.ends_with(".partial") {
        problems.push("the run's file was not renamed from .partial".into());
    }
    if lines.len() as u64 != run.records {
        problems.push(format!(
            "{} lines but the daemon reports {} records",
            lines.len(),
            run.records
        ));
    }
    let contiguous = lines
        .iter()
        .enumerate()
        .all(|(i, l)| l["seq"].as_u64() == Some(i as u64 + 1));
    if !contiguous {
        problems.push("seq numbers are not 1, 2, 3, …".into());
    }
    problems
}

fn sources(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["source"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Keys seen more than once, as a problem.
fn duplicates(keys: &[String]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    let twice: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    match twice.first() {
        None => Vec::new(),
        Some(first) => vec![format!(
            "{} written more than once (e.g. {first})",
            twice.len()
        )],
    }
}

/// Every input written once or dead; nothing written that was not asked for.
fn input_problems(inputs: &[String], lines: &[Value], dead: &[DeadItemInfo]) -> Vec<String> {
    let written = sources(lines);
    let mut problems = duplicates(&written);
    let written: BTreeSet<&str> = written.iter().map(String::as_str).collect();
    let asked: BTreeSet<&str> = inputs.iter().map(String::as_str).collect();
    let missing: Vec<&str> = inputs
        .iter()
        .map(String::as_str)
        .filter(|i| !written.contains(i) && !dead.iter().any(|d| names(&d.what, i)))
        .collect();
    if let Some(first) = missing.first() {
        problems.push(format!(
            "{} inputs neither written nor dead (e.g. {first})",
            missing.len()
        ));
    }
    if let Some(extra) = written.iter().find(|s| !asked.contains(*s)) {
        problems.push(format!("a record for {extra}, which was not asked for"));
    }
    problems
}

/// Whether a dead item's description names `input` as a whole word, so that a dead
/// `…/item/10` does not count for `…/item/1`.
fn names(what: &str, input: &str) -> bool {
    let part_of_word = |c: char| c.is_alphanumeric() || "-_./".contains(c);
    what.match_indices(input).any(|(at, _)| {
        let before = what[..at].chars().next_back();
        let after = what[at + input.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

/// The rows written are exactly the rows the simulator handed out and saw acknowledged.
fn ledger_problems(ledger: &[String], lines: &[Value]) -> Vec<String> {
    let rows: Vec<String> = lines
        .iter()
        .map(|l| {
            l["data"][dredge_sim::octoparse::ROW_KEY_FIELD]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let mut problems = duplicates(&rows);
    problems.extend(
        duplicates(ledger)
            .into_iter()
            .map(|p| format!("the vendor handed out {p}")),
    );
    let written: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
    let handed: BTreeSet<&str> = ledger.iter().map(String::as_str).collect();
    let lost = handed.difference(&written).count();
    if lost > 0 {
        problems.push(format!(
            "{lost} rows the vendor handed out are not in the file (lost)"
        ));
    }
    let unacked = written.difference(&handed).count();
    if unacked > 0 {
        problems.push(format!(
            "{unacked} rows written but never marked exported at the vendor"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(sources: &[&str]) -> Vec<Value> {
        sources
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"seq": i + 1, "source": s, "data": {"Url": s}}))
            .collect()
    }

    #[test]
    fn an_input_written_twice_is_reported() {
        let inputs = vec!["a".to_string(), "b".to_string()];
        let problems = input_problems(&inputs, &lines(&["a", "b", "a"]), &[]);
        assert_eq!(
            problems,
            vec!["1 written more than once (e.g. a)".to_string()]
        );
    }

    #[test]
    fn an_input_neither_written_nor_dead_is_reported_and_a_dead_one_is_not() {
        let inputs = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let dead = vec![DeadItemInfo {
            run: "r".into(),
            job: "j".into(),
            what: "c".into(),
            error: "http404".into(),
            attempts: 1,
        }];
        let problems = input_problems(&inputs, &lines(&["a"]), &dead);
        assert_eq!(
            problems,
            vec!["1 inputs neither written nor dead (e.g. b)".to_string()]
        );
    }

    #[test]
    fn a_dead_item_names_its_url_but_not_a_longer_one() {
        assert!(names(
            "https://s.com/item/1 (+2 more)",
            "https://s.com/item/1"
        ));
        assert!(!names("https://s.com/item/10", "https://s.com/item/1"));
        assert!(names("poll job 7 (q-1)", "q-1"));
    }

    #[test]
    fn rows_missing_from_the_file_or_the_ledger_are_reported() {
        let ledger = vec!["r1".to_string(), "r2".to_string()];
        assert!(ledger_problems(&ledger, &lines(&["r2", "r1"])).is_empty());
        let problems = ledger_problems(&ledger, &lines(&["r1", "r3"]));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
