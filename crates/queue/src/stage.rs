//! Stage, then commit: an item's records and follow-ups are made durable together
//! (stage); once the output writer has fsynced them into the run's file, the item is
//! done and the run's committed cursor moves (commit).

use dredge_core::{NewItem, Record};

use crate::codec::{Key, decode, encode, prefix};
use crate::error::{QueueError, Result};
use crate::items::expect_leased;
use crate::queue::Queue;
use crate::stored::Stored;
use crate::types::{ItemId, OutputCursor, RunId, StageResult};

impl Queue {
    /// In one durable batch: the leased item becomes Staged with `records`, and
    /// `follow_ups` are created in its run (a dedupe key already seen in the run
    /// creates nothing).
    pub fn stage(
        &self,
        id: ItemId,
        records: Vec<Record>,
        follow_ups: Vec<NewItem>,
    ) -> Result<StageResult> {
        self.write_durably(|tx| {
            let rec = tx.item_mut(id)?;
            expect_leased(id, rec)?;
            let run = rec.run.clone();
            let seq = tx.next_stage_seq();
            tx.set_state(id, Stored::Staged { seq })?;
            let key = Key::new(prefix::RECORDS).id(id).done();
            tx.put(key, encode("staged records", &records)?);
            let mut result = StageResult::default();
            for follow_up in follow_ups {
                match tx.create_item(&run, follow_up)? {
                    Some(created) => result.created.push(created),
                    None => result.deduplicated += 1,
                }
            }
            Ok(result)
        })
    }

    /// The records a staged item holds (what the writer appends for it).
    pub fn staged_records(&self, id: ItemId) -> Result<Vec<Record>> {
        let key = Key::new(prefix::RECORDS).id(id).done();
        if let Some(bytes) = self.inner.store()?.tree.get(key)? {
            return decode("staged records", &bytes);
        }
        match self.item(id)? {
            None => Err(QueueError::UnknownItem(id)),
            Some(_) => Err(QueueError::WrongState {
                id,
                expected: "staged",
                actual: "not staged",
            }),
        }
    }

    /// After the writer fsynced their records: `items` (all staged, all of `run`) become
    /// Done, their records are dropped, and the run's committed cursor is `cursor`.
    /// All or nothing; durable.
    pub fn commit(&self, run: &RunId, items: &[ItemId], cursor: OutputCursor) -> Result<()> {
        self.write_durably(|tx| {
            for &id in items {
                let rec = tx.item_mut(id)?;
                if rec.run != *run {
                    return Err(QueueError::WrongRun {
                        id,
                        expected: run.clone(),
                        actual: rec.run.clone(),
                    });
                }
                if !matches!(rec.state, Stored::Staged { .. }) {
                    return Err(QueueError::WrongState {
                        id,
                        expected: "staged",
                        actual: rec.state.name(),
                    });
                }
                tx.set_state(id, Stored::Done)?;
            }
            tx.status_mut(run)?.cursor = cursor;
            Ok(())
        })
    }
}
