//! How values and keys are laid out in the one sled tree.
//!
//! Values: one format-version byte, then the bincode 2 body, so a future layout can be
//! recognised instead of misread. Keys: a one-byte prefix per kind, strings
//! length-prefixed (so a prefix scan of one lane never runs into a lane that merely
//! starts with the same letters), integers big-endian (so byte order is numeric order).

use serde::{Serialize, de::DeserializeOwned};

use crate::error::{QueueError, Result};
use crate::types::ItemId;

/// The format version every stored value starts with.
pub const FORMAT_VERSION: u8 = 1;

pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    // Encoded straight after the version byte: staged records are large, and a second
    // buffer would copy every one of them again.
    let mut out = vec![FORMAT_VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard()).map_err(
        |e| QueueError::Encode {
            what,
            detail: e.to_string(),
        },
    )?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (&version, body) = bytes.split_first().ok_or(QueueError::Corrupt {
        what,
        detail: "empty value".into(),
    })?;
    if version != FORMAT_VERSION {
        return Err(QueueError::UnknownVersion {
            what,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let (value, _) =
        bincode::serde::decode_from_slice(body, bincode::config::standard()).map_err(|e| {
            QueueError::Corrupt {
                what,
                detail: e.to_string(),
            }
        })?;
    Ok(value)
}

/// The value of an index entry: only the version byte (the key says everything).
pub(crate) const MARKER: [u8; 1] = [FORMAT_VERSION];

/// Key prefixes, one per kind of entry.
pub(crate) mod prefix {
    /// Counters: `M` + name.
    pub(crate) const META: u8 = b'M';
    /// Run definition (immutable): `R` + run.
    pub(crate) const RUN_META: u8 = b'R';
    /// Run state, counts and cursor: `C` + run.
    pub(crate) const RUN_STATUS: u8 = b'C';
    /// Unfinished (running) runs: `U` + run.
    pub(crate) const UNFINISHED: u8 = b'U';
    /// Item record: `I` + id.
    pub(crate) const ITEM: u8 = b'I';
    /// Leasable items: `Q` + lane + not_before + id.
    pub(crate) const READY: u8 = b'Q';
    /// Leasable items by scope: `S` + lane + scope + id -> not_before.
    pub(crate) const SCOPE: u8 = b'S';
    /// Every waiting (ready or snoozed) item of a run, leasable or not: `N` + run + id.
    pub(crate) const WAITING: u8 = b'N';
    /// Leased items: `L` + id.
    pub(crate) const LEASED: u8 = b'L';
    /// Staged items in staging order: `G` + stage seq -> (run, id).
    pub(crate) const STAGED: u8 = b'G';
    /// A staged item's records: `T` + id.
    pub(crate) const RECORDS: u8 = b'T';
    /// Dead items: `X` + run + id.
    pub(crate) const DEAD: u8 = b'X';
    /// Dedupe keys seen in a run: `D` + run + key.
    pub(crate) const DEDUPE: u8 = b'D';
    /// Schedule state: `H` + job.
    pub(crate) const SCHEDULE: u8 = b'H';
    /// Paused jobs: `P` + job.
    pub(crate) const PAUSED: u8 = b'P';
    /// Why dredge itself ended a run (a string): `W` + run.
    pub(crate) const RUN_REASON: u8 = b'W';
    /// Cancelled runs whose file recovery has not yet cut back: `K` + run.
    pub(crate) const UNSETTLED: u8 = b'K';
    /// A run whose inputs are still being planned: `E` + run -> `PlanCursor`.
    pub(crate) const PLANNING: u8 = b'E';
    /// Runs by job: `J` + job + run.
    pub(crate) const JOB_RUNS: u8 = b'J';
    /// Items by run: `B` + run + id.
    pub(crate) const RUN_ITEMS: u8 = b'B';
}

/// Builds a key from parts.
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn new(prefix: u8) -> Self {
        Key(vec![prefix])
    }

    pub(crate) fn str(mut self, s: &str) -> Self {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// A string as the last part: no length prefix needed.
    pub(crate) fn tail(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    pub(crate) fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    pub(crate) fn id(self, id: ItemId) -> Self {
        self.u64(id.0)
    }

    pub(crate) fn done(self) -> Vec<u8> {
        self.0
    }
}

/// The trailing big-endian u64 of a key (item ids, not_before).
pub(crate) fn trailing_u64(key: &[u8], from_end: usize) -> Result<u64> {
    let end = key.len().checked_sub(from_end * 8).ok_or_else(short_key)?;
    let start = end.checked_sub(8).ok_or_else(short_key)?;
    let bytes: [u8; 8] = key[start..end].try_into().map_err(|_| short_key())?;
    Ok(u64::from_be_bytes(bytes))
}

fn short_key() -> QueueError {
    QueueError::Corrupt {
        what: "index key",
        detail: "key too short".into(),
    }
}

pub(crate) fn item_key(id: ItemId) -> Vec<u8> {
    Key::new(prefix::ITEM).id(id).done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_with_unknown_version_byte_is_rejected_with_version_error() {
        let mut bytes = encode("test", &42u64).unwrap();
        bytes[0] = 2;
        let err = decode::<u64>("test", &bytes).unwrap_err();
        assert!(
            matches!(err, QueueError::UnknownVersion { found: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("a newer dredge wrote"), "{err}");
        bytes[0] = 0;
        let err = decode::<u64>("test", &bytes).unwrap_err();
        assert!(err.to_string().contains("an older dredge wrote"), "{err}");
    }

    #[test]
    fn value_round_trips_with_leading_version_byte() {
        let bytes = encode("test", &"hello".to_string()).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<String>("test", &bytes).unwrap(), "hello");
    }

    #[test]
    fn lane_prefix_does_not_match_a_longer_lane() {
        let a = Key::new(prefix::READY).str("ab").done();
        let ab = Key::new(prefix::READY).str("abc").u64(0).done();
        assert!(!ab.starts_with(&a));
    }

    #[test]
    fn big_endian_keys_sort_numerically() {
        let small = Key::new(prefix::READY).str("l").u64(255).done();
        let big = Key::new(prefix::READY).str("l").u64(256).done();
        assert!(small < big);
    }
}
