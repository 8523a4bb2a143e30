//! `DownloadTaskStates` by name. The server may send `TaskState` as a name or as its
//! number (docs/vendors/wds.md §"Task states"); dead reasons always show the name.

use serde_json::Value;

/// The vendor's numbering.
const STATES: [(u64, &str); 6] = [
    (0, "Handled"),
    (1, "AccessDeniedForRobots"),
    (2, "AllRequestGatesExhausted"),
    (10, "Created"),
    (11, "InProgress"),
    (12, "Deleted"),
];

/// The state's name for a JSON `TaskState`: a name as sent, a number (or numeric
/// string) mapped to its name, an unknown number as `TaskState 7`.
pub fn name(value: &Value) -> Option<String> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) if s.trim().is_empty() => return None,
            Err(_) => return Some(s.trim().to_string()),
        },
        _ => return None,
    };
    let number = number?;
    Some(STATES.iter().find(|(n, _)| *n == number).map_or_else(
        || format!("TaskState {number}"),
        |(_, name)| name.to_string(),
    ))
}
