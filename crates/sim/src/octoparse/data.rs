//! The account's data: task groups, tasks and their rows, generated from the seed, plus
//! each task's export state and the ledger of rows handed out by destructive reads.

use rand::Rng;
use serde_json::{Value, json};

use crate::common::rng_for;

/// The row field that is unique per row (across all tasks): the ledger's row key.
pub const ROW_KEY_FIELD: &str = "Url";

/// Distance between two rows' opaque offsets: a client that computes `offset + size`
/// instead of using the returned offset reads the wrong rows.
const OFFSET_STRIDE: u64 = 3;

const CITIES: &[(&str, &str)] = &[
    ("Plano", "Texas"),
    ("Austin", "Texas"),
    ("Denver", "Colorado"),
    ("Portland", "Oregon"),
    ("Boston", "Massachusetts"),
    ("Tampa", "Florida"),
];
const WINDS: &[&str] = &["NW", "NNW", "N", "SE", "SW", "E"];
const PRODUCTS: &[&str] = &[
    "Kettle",
    "Lamp",
    "Backpack",
    "Notebook",
    "Headphones",
    "Tent",
];

/// One task group and its tasks.
#[derive(Debug, Clone)]
pub struct TaskGroup {
    /// Integer id, as the real API returns it.
    pub id: i64,
    pub name: String,
    pub tasks: Vec<Task>,
}

/// One task: a string id and its rows, oldest first.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub rows: Vec<Value>,
    /// Opaque offset of the first row.
    offset_base: u64,
}

impl Task {
    /// The opaque offset that points at row `index`.
    pub fn offset_of(&self, index: usize) -> u64 {
        self.offset_base + index as u64 * OFFSET_STRIDE
    }

    /// The row index an opaque offset points at (0 for anything before the first row).
    pub fn index_of(&self, offset: u64) -> usize {
        let index = offset.saturating_sub(self.offset_base) / OFFSET_STRIDE;
        usize::try_from(index)
            .unwrap_or(usize::MAX)
            .min(self.rows.len())
    }
}

/// Generate `groups` task groups of `tasks` tasks with `rows` rows each.
pub fn generate(seed: u64, groups: u32, tasks: u32, rows: u32) -> Vec<TaskGroup> {
    let mut rng = rng_for(seed, "octoparse:groups");
    (0..groups)
        .map(|g| {
            let id = 84 + i64::from(g) * 7;
            let tasks = (0..tasks)
                .map(|t| {
                    let task_id = guid(&mut rng);
                    let name = format!("Task {} of group {id}", t + 1);
                    make_task(seed, task_id, name, rows)
                })
                .collect();
            TaskGroup {
                id,
                name: format!("Group {}", g + 1),
                tasks,
            }
        })
        .collect()
}

fn guid(rng: &mut impl Rng) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    )
}

fn make_task(seed: u64, id: String, name: String, count: u32) -> Task {
    let mut rng = rng_for(seed, &id);
    let short = &id[..8];
    let rows = (0..count).map(|i| row(&mut rng, short, i)).collect();
    Task {
        offset_base: rng.random_range(10_000..1_000_000),
        id,
        name,
        rows,
    }
}

/// Give every row a `Notes` value of several lines (the `pretty` option): text with
/// newlines, a tab and quotes, which JSON carries escaped and a pretty-printer leaves
/// so.
pub fn add_notes(groups: &mut [TaskGroup]) {
    for task in groups.iter_mut().flat_map(|g| g.tasks.iter_mut()) {
        for (index, row) in task.rows.iter_mut().enumerate() {
            if let Value::Object(fields) = row {
                let notes = format!(
                    "Row {index} of task {}\n\tchecked: \"yes\"\nend of notes\n",
                    task.name
                );
                fields.insert("Notes".into(), Value::String(notes));
            }
        }
    }
}

// The weather fields of the guide's sample rows
// (docs/vendors/octoparse.md §"Reading all data (legacy)").
/// One realistic row (weather plus a product listing) with a unique `Url`.
fn row(rng: &mut impl Rng, task_short: &str, index: u32) -> Value {
    let (city, state) = CITIES[rng.random_range(0..CITIES.len())];
    let product = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
    let high: f64 = f64::from(rng.random_range(500..1000_u32)) / 10.0;
    let low = high - f64::from(rng.random_range(50..300_u32)) / 10.0;
    let day = chrono::NaiveDate::from_ymd_opt(2013, 1, 1)
        .map(|d| d + chrono::Days::new(u64::from(index)))
        .map(|d| d.format("%Y-%-m-%-d").to_string())
        .unwrap_or_default();
    json!({
        "Title": format!("{product} #{index}"),
        "Price": format!("${}.{:02}", rng.random_range(1..500), rng.random_range(0..100)),
        ROW_KEY_FIELD: format!("https://shop.example.com/{task_short}/item/{index}"),
        "State": state,
        "City": city,
        "Date": day,
        "Humidity": format!("{}%", rng.random_range(10..100)),
        "High Temperatures": format!("{high:.1}F"),
        "Low Temperatures": format!("{low:.1}F"),
        "Wind": format!("{} {}km/h", WINDS[rng.random_range(0..WINDS.len())], rng.random_range(1..40)),
    })
}

/// One row handed out by a destructive read (or acknowledged as exported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub task_id: String,
    /// The row's [`ROW_KEY_FIELD`] value.
    pub row_key: String,
    /// The endpoint that marked it exported: `notexportdata`, `update` or `markexported`.
    pub via: &'static str,
}

/// Export progress of one task: rows before `exported` are gone for good; rows in
/// `exported..staged_end` were handed out by `getTop` and wait for their ack.
#[derive(Debug, Clone, Default)]
pub struct ExportState {
    pub exported: usize,
    pub staged_end: Option<usize>,
}

/// The row key of a row.
pub fn row_key(row: &Value) -> String {
    row.get(ROW_KEY_FIELD)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_keys_are_unique() {
        let a = generate(3, 2, 2, 20);
        let b = generate(3, 2, 2, 20);
        assert_eq!(a[1].tasks[1].rows, b[1].tasks[1].rows);
        let mut keys: Vec<String> = a
            .iter()
            .flat_map(|g| &g.tasks)
            .flat_map(|t| t.rows.iter().map(row_key))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn offsets_round_trip_and_are_not_plain_counts() {
        let task = &generate(1, 1, 1, 10)[0].tasks[0];
        assert_eq!(task.index_of(task.offset_of(4)), 4);
        assert_eq!(task.index_of(0), 0);
        assert_ne!(task.offset_of(4), task.offset_of(2) + 2);
    }
}
