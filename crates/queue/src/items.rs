//! Items while they wait and run: leasing, releasing, killing, deferring a scope.

use dredge_core::UnixMillis;

use crate::codec::{Key, decode, item_key, prefix, trailing_u64};
use crate::error::{QueueError, Result};
use crate::queue::Queue;
use crate::stored::{ItemRec, Stored};
use crate::types::{ItemId, ItemInfo, Lease, LeasedItem, Release, RunId};

impl Queue {
    /// Leases the waiting item of `lane` with the earliest `not_before` (then lowest id)
    /// if that is not after `now`. One index lookup, no scan. Not flushed: a lease never
    /// survives a restart anyway.
    pub(crate) fn lease_next(
        &self,
        lane: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> Result<Option<LeasedItem>> {
        self.write(|tx| {
            let Some(key) = tx.first_ready(lane)? else {
                return Ok(None);
            };
            if trailing_u64(&key, 1)? > now.0 {
                return Ok(None);
            }
            let id = ItemId(trailing_u64(&key, 0)?);
            let was = Box::new(tx.item_mut(id)?.state.clone());
            let leased = Stored::Leased {
                until: lease_until.0,
                was,
            };
            tx.set_state(id, leased)?;
            tx.ws.last_epoch += 1;
            let epoch = tx.ws.last_epoch;
            tx.ws.lease_epochs.insert(id, epoch);
            let rec = tx.item_mut(id)?.clone();
            let meta = tx.meta(&rec.run)?;
            Ok(Some(LeasedItem {
                id,
                job: meta.job.clone(),
                lane: meta.lane.clone(),
                run: rec.run,
                label: rec.label,
                payload: rec.payload,
                scope: rec.scope,
                attempts: rec.attempts,
                polls: rec.polls,
                run_started: meta.started_at,
                deadline: meta.deadline,
                max_attempts: meta.max_attempts,
                epoch,
            }))
        })
    }

    /// Make the item created in `run` with dedupe key `key` leasable now, if it is
    /// waiting (an Oxylabs callback saying its job is done). Returns the item when the
    /// key exists in the run — whatever its state — and `None` when it does not.
    pub(crate) fn wake_by_key(
        &self,
        run: &RunId,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<ItemId>> {
        let Some(value) = self
            .inner
            .store()?
            .tree
            .get(crate::tx::dedupe_key(run, key))?
        else {
            return Ok(None);
        };
        let id = ItemId(decode::<u64>("dedupe entry", &value)?);
        self.write_durably(|tx| {
            let rec = tx.item_mut(id)?;
            if matches!(rec.state, Stored::Ready { .. } | Stored::Snoozed { .. })
                && rec.state.waiting_since().is_some_and(|t| t > now.0)
            {
                tx.set_state(id, Stored::Ready { not_before: now.0 })?;
            }
            Ok(Some(id))
        })
    }

    /// When the earliest waiting item of `lane` becomes leasable (maybe already past).
    pub(crate) fn next_ready_at(&self, lane: &str) -> Result<Option<UnixMillis>> {
        let state = self.lock_write();
        let store = self.inner.store()?;
        let lane_prefix = Key::new(prefix::READY).str(lane).done();
        match state.pending.first_ready(&store.tree, &lane_prefix)? {
            Some(key) => Ok(Some(UnixMillis(trailing_u64(&key, 1)?))),
            None => Ok(None),
        }
    }

    /// Puts a leased item back to waiting: snoozed (not counted) or retried (counted).
    /// Refused when the lease was taken back (see `Lease`).
    pub(crate) fn release(&self, lease: impl Into<Lease>, release: Release) -> Result<()> {
        let lease = lease.into();
        let id = lease.id;
        self.write_durably(|tx| {
            let rec = tx.expect_lease(lease)?;
            let state = match release {
                Release::Snooze { until, polls, note } => {
                    rec.polls = polls;
                    rec.note = Some(note);
                    Stored::Snoozed { until: until.0 }
                }
                Release::Retry {
                    not_before,
                    attempts,
                    error,
                } => {
                    rec.attempts = attempts;
                    rec.last_error = Some(error);
                    Stored::Ready {
                        not_before: not_before.0,
                    }
                }
            };
            tx.set_state(id, state)
        })
    }

    /// Marks a leased or waiting item dead, keeping `reason` as its last error. With an
    /// epoch, only that lease of the item may be killed.
    pub(crate) fn kill(&self, lease: impl Into<Lease>, reason: &str) -> Result<()> {
        let lease = lease.into();
        let id = lease.id;
        self.write_durably(|tx| {
            if lease.epoch.is_some() {
                tx.expect_lease(lease)?;
            }
            let rec = tx.item_mut(id)?;
            let killable = matches!(
                rec.state,
                Stored::Leased { .. } | Stored::Ready { .. } | Stored::Snoozed { .. }
            );
            if !killable {
                return Err(QueueError::WrongState {
                    id,
                    expected: "leased, ready or snoozed",
                    actual: rec.state.name(),
                });
            }
            rec.last_error = Some(reason.to_string());
            let dead = Stored::Dead {
                reason: reason.to_string(),
            };
            tx.set_state(id, dead)
        })
    }

    /// Snoozes every leasable item of (`lane`, `scope`) whose time is before `until`
    /// to `until` ("the domain is occupied for N seconds"). Returns how many moved.
    /// Uses the scope index: cost is the number of that scope's waiting items.
    pub(crate) fn defer_scope(&self, lane: &str, scope: &str, until: UnixMillis) -> Result<usize> {
        self.write_durably_scanning(|tx| {
            let scope_prefix = Key::new(prefix::SCOPE).str(lane).str(scope).done();
            let mut due = Vec::new();
            for entry in tx.tree().scan_prefix(scope_prefix) {
                let (key, value) = entry?;
                let not_before: u64 = decode("scope entry", &value)?;
                if not_before < until.0 {
                    due.push(ItemId(trailing_u64(&key, 0)?));
                }
            }
            for id in &due {
                tx.set_state(*id, Stored::Snoozed { until: until.0 })?;
            }
            Ok(due.len())
        })
    }

    /// `reclaim_expired_leases`, sparing the leases in `keep` (results a caller still
    /// holds and will commit).
    pub(crate) fn reclaim_expired_leases_except(
        &self,
        now: UnixMillis,
        keep: &std::collections::HashSet<ItemId>,
    ) -> Result<usize> {
        self.revert_leases(|id, until| until <= now.0 && !keep.contains(&id))
    }

    /// The lease reverts now, whatever its time: its worker is known to be gone (it
    /// panicked). Refused if `lease` is no longer the item's lease.
    pub(crate) fn abandon(&self, lease: Lease, note: &str) -> Result<()> {
        self.write_durably(|tx| {
            let rec = tx.expect_lease(lease)?;
            rec.last_error = Some(note.to_string());
            let Stored::Leased { was, .. } = rec.state.clone() else {
                unreachable!("expect_lease checked the state")
            };
            tx.set_state(lease.id, *was)
        })
    }

    /// One item as stored.
    pub(crate) fn item(&self, id: ItemId) -> Result<Option<ItemInfo>> {
        let state = self.lock_write();
        let rec = match state.pending.items.get(&id) {
            Some(rec) => rec.clone(),
            None => match self.inner.store()?.tree.get(item_key(id))? {
                Some(bytes) => decode::<ItemRec>("item", &bytes)?,
                None => return Ok(None),
            },
        };
        drop(state);
        Ok(Some(ItemInfo {
            id,
            state: rec.state.public(),
            run: rec.run,
            label: rec.label,
            payload: rec.payload,
            scope: rec.scope,
            attempts: rec.attempts,
            polls: rec.polls,
            last_error: rec.last_error,
            note: rec.note,
        }))
    }
}

pub(crate) fn expect_leased(id: ItemId, rec: &ItemRec) -> Result<()> {
    match rec.state {
        Stored::Leased { .. } => Ok(()),
        _ => Err(QueueError::WrongState {
            id,
            expected: "leased",
            actual: rec.state.name(),
        }),
    }
}
