//! What an executor hands back for the output file.

use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

/// One output record, before the writer gives it its place (`seq`) in the run's file.
///
/// `data` is kept as JSON text rather than a `serde_json::Value` so the record can be
/// stored with bincode (which cannot encode self-describing values) and written out
/// byte for byte as the vendor sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What the record came from, e.g. the URL or `task 7a1b`.
    pub source: String,
    /// The work item that produced it (its label), e.g. `page-3`.
    pub item: String,
    pub fetched_at: UnixMillis,
    /// The vendor's record as JSON text (an object, array or value).
    pub data: String,
    /// A binary result (Oxylabs png) written next to the run's file; the record's data
    /// then refers to it by relative path.
    pub attachment: Option<Attachment>,
}

/// A binary file that belongs to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name inside the run's attachment directory, e.g. `7301.png`.
    pub name: String,
    pub bytes: Vec<u8>,
}
