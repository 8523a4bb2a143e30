//! Account stops across daemons: a lane that met `auth_failed` or `account_suspended`
//! stops its account on this daemon (`Lane::stop_auth`); here the stop reaches the
//! others. At each heartbeat this daemon re-asserts the stops it met itself (a row that
//! lapses if it dies), withdraws the ones its config change cleared (`apply_config`
//! clears a changed account's stop, as with one daemon), and stops its own lane for an
//! account another daemon asserts, unless that stop was met before this daemon's own
//! config for the account last changed (or before it started): a stop met under an
//! older config must not undo a fix. A stop taken from another daemon is not asserted
//! again, and stays until this daemon's config for the account changes, as a stop met
//! here does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dredge_core::UnixMillis;
use dredge_core::retry::AccountStop;
use dredge_queue::AccountStopInfo;

use super::HEARTBEAT_EXPIRES_AFTER;
use crate::daemon::state::Shared;

/// A stop as a lane holds it: which, and why.
pub(super) type Stop = (AccountStop, String);

/// What the last rounds did, to tell a stop met here from one taken from another
/// daemon, and a stop cleared here from one never seen.
pub(super) struct StopsSeen {
    /// Accounts whose stop this daemon met and asserts, with when it was first seen.
    asserted: HashMap<String, UnixMillis>,
    /// Accounts stopped here because another daemon asserts a stop.
    taken: HashSet<String>,
    /// When this daemon's config for an account last cleared its stop.
    cleared: HashMap<String, UnixMillis>,
    /// When this daemon started: stops met earlier are not taken.
    started: UnixMillis,
}

/// One thing a heartbeat round does about account stops.
#[derive(Debug, PartialEq)]
pub(super) enum StopAction {
    /// Assert (again) this daemon's stop of the account, met at `since`.
    Assert {
        account: String,
        stop: Stop,
        since: UnixMillis,
    },
    /// Withdraw this daemon's stop: its config for the account changed.
    Withdraw(String),
    /// Stop this daemon's lane: another daemon met the stop.
    Take(String, Stop),
}

impl StopsSeen {
    pub(super) fn new(started: UnixMillis) -> Self {
        StopsSeen {
            asserted: HashMap::new(),
            taken: HashSet::new(),
            cleared: HashMap::new(),
            started,
        }
    }

    /// What to do at `now`, given each lane's stop here (by account) and the unexpired
    /// stops other daemons assert.
    pub(super) fn round(
        &mut self,
        now: UnixMillis,
        lanes: &[(String, Option<Stop>)],
        others: &[AccountStopInfo],
    ) -> Vec<StopAction> {
        let mut actions = Vec::new();
        for (account, stop) in lanes {
            match stop {
                Some(_) if self.taken.contains(account) => {}
                Some(stop) => {
                    let since = *self.asserted.entry(account.clone()).or_insert(now);
                    actions.push(StopAction::Assert {
                        account: account.clone(),
                        stop: stop.clone(),
                        since,
                    });
                }
                None if self.asserted.remove(account).is_some() || self.taken.remove(account) => {
                    self.cleared.insert(account.clone(), now);
                    actions.push(StopAction::Withdraw(account.clone()));
                }
                None => {
                    if let Some(stop) = self.to_take(account, others) {
                        self.taken.insert(account.clone());
                        actions.push(StopAction::Take(account.clone(), stop));
                    }
                }
            }
        }
        actions
    }

    /// Another daemon's stop of `account` met after this daemon's config for it last
    /// changed, if any.
    fn to_take(&self, account: &str, others: &[AccountStopInfo]) -> Option<Stop> {
        let config_since = self.cleared.get(account).copied().unwrap_or(self.started);
        let other = others
            .iter()
            .find(|s| s.account == account && s.since > config_since)?;
        let kind = AccountStop::parse(&other.kind)?;
        let why = format!(
            "{} (met by the daemon of node {:?})",
            other.reason, other.node
        );
        Some((kind, why))
    }
}

/// Asserts, withdraws and takes account stops: one round of `StopsSeen`, carried out.
pub(super) async fn pass_on(shared: &Arc<Shared>, now: UnixMillis, others: &[AccountStopInfo]) {
    let lanes: Vec<_> = {
        let lanes = shared.lanes.lock().expect("lanes poisoned");
        lanes.values().map(Arc::clone).collect()
    };
    let states: Vec<_> = lanes
        .iter()
        .map(|l| (l.account.clone(), l.auth_failure()))
        .collect();
    let actions =
        (shared.cluster.stops.lock().expect("stops poisoned")).round(now, &states, others);
    let mut writes = Vec::new();
    for action in actions {
        match action {
            StopAction::Take(account, (kind, why)) => {
                tracing::error!(account = %account, reason = %why, state = kind.as_str(),
                    "another daemon stopped the account: its items stop here too until its configuration changes (dredge reload)");
                if let Some(lane) = lanes.iter().find(|l| l.account == account) {
                    lane.stop_auth(kind, why);
                }
            }
            write => writes.push(write),
        }
    }
    if writes.is_empty() {
        return;
    }
    let q = shared.queue.clone();
    let expires_at = now.after(HEARTBEAT_EXPIRES_AFTER);
    let written = tokio::task::spawn_blocking(move || {
        let cluster = q.cluster().expect("checked at start");
        for write in writes {
            match write {
                StopAction::Assert {
                    account,
                    stop,
                    since,
                } => cluster.assert_account_stop(&AccountStopInfo {
                    account,
                    node: cluster.node().to_string(),
                    kind: stop.0.as_str().to_string(),
                    reason: stop.1,
                    since,
                    expires_at,
                })?,
                StopAction::Withdraw(account) => cluster.withdraw_account_stop(&account)?,
                StopAction::Take(..) => {}
            }
        }
        Ok::<_, dredge_queue::QueueError>(())
    })
    .await;
    if let Ok(Err(e)) = written {
        tracing::warn!(error = %e, "cannot pass this daemon's account stops to the others (tried again at the next heartbeat)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(account: &str, since: u64) -> AccountStopInfo {
        AccountStopInfo {
            account: account.into(),
            node: "b".into(),
            kind: "auth_failed".into(),
            reason: "bad key".into(),
            since: UnixMillis(since),
            expires_at: UnixMillis(0),
        }
    }

    fn stopped() -> Option<Stop> {
        Some((AccountStop::Suspended, "limit".into()))
    }

    #[test]
    fn a_stop_met_here_is_asserted_each_round_and_withdrawn_once_cleared() {
        let mut seen = StopsSeen::new(UnixMillis(0));
        let lanes = [("x".to_string(), stopped())];
        for now in [10, 20] {
            let actions = seen.round(UnixMillis(now), &lanes, &[]);
            let assert = StopAction::Assert {
                account: "x".into(),
                stop: stopped().unwrap(),
                since: UnixMillis(10),
            };
            assert_eq!(actions, [assert], "met at 10, asserted as such");
        }
        let cleared = [("x".to_string(), None)];
        let actions = seen.round(UnixMillis(30), &cleared, &[]);
        assert_eq!(actions, [StopAction::Withdraw("x".into())]);
        assert!(seen.round(UnixMillis(40), &cleared, &[]).is_empty());
    }

    #[test]
    fn another_daemons_stop_is_taken_once_and_not_asserted_again() {
        let mut seen = StopsSeen::new(UnixMillis(0));
        let others = [other("x", 5)];
        let actions = seen.round(UnixMillis(10), &[("x".to_string(), None)], &others);
        let [StopAction::Take(account, (kind, why))] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!((account.as_str(), *kind), ("x", AccountStop::AuthFailed));
        assert!(why.contains("bad key") && why.contains("\"b\""), "{why}");
        // Stopped here too now: nothing asserted, nothing taken again.
        let lanes = [("x".to_string(), Some((*kind, why.clone())))];
        assert!(seen.round(UnixMillis(20), &lanes, &others).is_empty());
        // A config change clears it here; the stop the other met before is not taken
        // again, a stop it meets later is.
        let cleared = [("x".to_string(), None)];
        let actions = seen.round(UnixMillis(30), &cleared, &others);
        assert_eq!(actions, [StopAction::Withdraw("x".into())]);
        assert!(seen.round(UnixMillis(40), &cleared, &others).is_empty());
        let later = [other("x", 35)];
        let actions = seen.round(UnixMillis(50), &cleared, &later);
        assert!(
            matches!(actions.as_slice(), [StopAction::Take(..)]),
            "{actions:?}"
        );
    }

    #[test]
    fn a_stop_met_before_this_daemon_started_or_none_at_all_needs_nothing() {
        let mut seen = StopsSeen::new(UnixMillis(100));
        let lanes = [("x".to_string(), None), ("y".to_string(), None)];
        assert!(
            seen.round(UnixMillis(110), &lanes, &[other("x", 50)])
                .is_empty()
        );
        assert!(
            seen.round(UnixMillis(120), &lanes, &[other("z", 115)])
                .is_empty()
        );
    }
}
