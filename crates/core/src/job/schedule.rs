//! When a job fires: a cron expression in UTC, parsed once.

use std::fmt;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

/// A job's `schedule`: 5-field cron, 6-field cron with seconds first, or one of
/// `@hourly`, `@daily`, `@weekly` (and the other `@` nicknames croner knows). UTC.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl Schedule {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when it fires every second (`* * * * * *`, `*/1 ...`): legal, but almost
    /// always a mistake for a data-collection job, so it is warned about.
    pub fn fires_every_second(&self) -> bool {
        let fields: Vec<&str> = self.text.split_whitespace().collect();
        fields.len() == 6 && matches!(fields[0], "*" | "*/1" | "0-59" | "0-59/1")
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: UnixMillis) -> Option<UnixMillis> {
        let t = whole_second(after);
        self.cron
            .find_next_occurrence(&t, false)
            .ok()
            .map(|d| UnixMillis::from(std::time::SystemTime::from(d)))
    }

    /// The last fire at or before `at`, if any fire happened after `since`.
    pub fn last_fire_between(&self, since: UnixMillis, at: UnixMillis) -> Option<UnixMillis> {
        let t = whole_second(at);
        let prev = self.cron.find_previous_occurrence(&t, true).ok()?;
        let prev = UnixMillis::from(std::time::SystemTime::from(prev));
        (prev > since).then_some(prev)
    }
}

/// Cron works in whole seconds; croner would otherwise carry milliseconds into fires.
fn whole_second(t: UnixMillis) -> DateTime<Utc> {
    std::time::SystemTime::from(UnixMillis(t.0 - t.0 % 1000)).into()
}

impl TryFrom<String> for Schedule {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let fields = text.split_whitespace().count();
        if !text.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(format!(
                "schedule {text:?} has {fields} fields: use 5 (min hour day month weekday), 6 (with seconds first), or @hourly/@daily/@weekly"
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        match parser.parse(&text) {
            Ok(cron) => Ok(Schedule { text, cron }),
            Err(e) => Err(format!(
                "schedule {text:?} is not a valid cron expression: {e}"
            )),
        }
    }
}

impl From<Schedule> for String {
    fn from(s: Schedule) -> String {
        s.text
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}
