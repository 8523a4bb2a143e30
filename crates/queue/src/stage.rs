//! Stage, then commit: an item's records and follow-ups are made durable together
//! (stage); once the output writer has fsynced them into the run's file, the item is
//! done and the run's committed cursor moves (commit).
//!
//! The short way, `commit_written`: when the writer can take an item's records at once,
//! it appends and fsyncs them straight from memory, and the leased item goes to Done
//! with its follow-ups in the commit itself. The records then never pass through the
//! queue, which halves what a record costs to make durable. A crash before that commit
//! leaves the item leased (so it runs again) and the file is cut back to the cursor, so
//! the output still holds each record once.

use dredge_core::{NewItem, Record};

use crate::codec::{Key, decode, encode, prefix};
use crate::error::{QueueError, Result};
use crate::queue::Queue;
use crate::stored::Stored;
use crate::tx::Tx;
use crate::types::{ItemId, Lease, OutputCursor, RunId, StageResult, WrittenItem};

impl Queue {
    /// In one durable batch: the leased item becomes Staged with `records`, and
    /// `follow_ups` are created in its run (a dedupe key already seen in the run
    /// creates nothing).
    pub(crate) fn stage(
        &self,
        lease: impl Into<Lease>,
        records: &[Record],
        follow_ups: Vec<NewItem>,
    ) -> Result<StageResult> {
        let lease = lease.into();
        let id = lease.id;
        self.write_durably(|tx| {
            let run = tx.expect_lease(lease)?.run.clone();
            let seq = tx.next_stage_seq();
            tx.set_state(id, Stored::Staged { seq })?;
            let key = Key::new(prefix::RECORDS).id(id).done();
            tx.put(key, encode("staged records", &records)?);
            create_follow_ups(tx, &run, follow_ups)
        })
    }

    /// The records a staged item holds (what the writer appends for it).
    pub(crate) fn staged_records(&self, id: ItemId) -> Result<Vec<Record>> {
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

    /// `commit`, plus items whose records the writer appended and fsynced without
    /// staging them: each of `written` (all leased, all of `run`) becomes Done and its
    /// follow-ups are created (a dedupe key already seen creates nothing). Returns what
    /// each written item created, in order. All or nothing; durable.
    pub(crate) fn commit_written(
        &self,
        run: &RunId,
        staged: &[ItemId],
        written: Vec<WrittenItem>,
        cursor: OutputCursor,
    ) -> Result<Vec<StageResult>> {
        self.write_durably(|tx| {
            for &id in staged {
                let rec = expect_in_run(tx, id, run)?;
                if !matches!(rec.state, Stored::Staged { .. }) {
                    return Err(QueueError::WrongState {
                        id,
                        expected: "staged",
                        actual: rec.state.name(),
                    });
                }
                tx.set_state(id, Stored::Done)?;
            }
            let mut results = Vec::with_capacity(written.len());
            for item in written {
                expect_in_run(tx, item.id, run)?;
                tx.expect_lease(Lease {
                    id: item.id,
                    epoch: item.epoch,
                })?;
                tx.set_state(item.id, Stored::Done)?;
                results.push(create_follow_ups(tx, run, item.follow_ups)?);
            }
            let status = tx.status_mut(run)?;
            // The writer is a run file's only writer and its cursor only grows; a
            // smaller one means two handles on one file, and storing it would let
            // recovery cut committed records.
            if cursor.bytes < status.cursor.bytes || cursor.records < status.cursor.records {
                return Err(QueueError::CursorBackwards {
                    run: run.clone(),
                    committed_bytes: status.cursor.bytes,
                    offered_bytes: cursor.bytes,
                });
            }
            status.cursor = cursor;
            Ok(results)
        })
    }
}

/// The item, when it belongs to `run`.
fn expect_in_run<'t>(
    tx: &'t mut Tx<'_>,
    id: ItemId,
    run: &RunId,
) -> Result<&'t crate::stored::ItemRec> {
    let rec = tx.item_mut(id)?;
    if rec.run != *run {
        return Err(QueueError::WrongRun {
            id,
            expected: run.clone(),
            actual: rec.run.clone(),
        });
    }
    Ok(rec)
}

/// Create an item's follow-ups in its run.
fn create_follow_ups(
    tx: &mut Tx<'_>,
    run: &RunId,
    follow_ups: Vec<NewItem>,
) -> Result<StageResult> {
    let mut result = StageResult::default();
    for follow_up in follow_ups {
        match tx.create_item(run, follow_up)? {
            Some(created) => result.created.push(created),
            None => result.deduplicated += 1,
        }
    }
    Ok(result)
}
