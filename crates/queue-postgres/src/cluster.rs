//! `PgQueue` as a [`Cluster`]: heartbeats in `nodes.rs`, account stops in `stops.rs`,
//! run writers in `writers.rs`.

use dredge_core::UnixMillis;
use dredge_queue::{
    AccountStopInfo, Cluster, ItemId, NodeInfo, NoticeSink, Result, RunId, WrittenChunk,
};

use crate::queue::{PgQueue, in_tx};
use crate::{nodes, stops};

impl Cluster for PgQueue {
    fn node(&self) -> &str {
        PgQueue::node(self)
    }

    fn heartbeat(&self, now: UnixMillis, expires_at: UnixMillis) -> Result<Vec<NodeInfo>> {
        let node = self.node_name();
        in_tx!(self, |tx| {
            nodes::heartbeat(&tx, &node, now, expires_at).await?;
            nodes::live(&tx, now).await?
        })
    }

    fn listen(&self, sink: NoticeSink) -> Result<()> {
        let node = self.node_name().to_string();
        let config = self.engine.config.clone();
        let (started, listening) = futures::channel::oneshot::channel();
        self.engine
            .spawn(crate::notify::listen_forever(config, node, sink, started));
        futures::executor::block_on(listening).unwrap_or(Ok(()))
    }

    fn live_nodes(&self, now: UnixMillis) -> Result<Vec<NodeInfo>> {
        in_tx!(self, |tx| nodes::live(&tx, now).await?)
    }

    fn leave(&self) -> Result<()> {
        let node = self.node_name();
        in_tx!(self, |tx| nodes::leave(&tx, &node).await?)
    }

    fn reclaim_leases_of_gone_nodes(&self, now: UnixMillis) -> Result<usize> {
        let node = self.node_name();
        in_tx!(self, |tx| nodes::reclaim_gone(&tx, &node, now).await?
            as usize)
    }

    fn assert_account_stop(&self, stop: &AccountStopInfo) -> Result<()> {
        let (node, stop) = (self.node_name(), stop.clone());
        in_tx!(self, |tx| stops::assert(&tx, &node, &stop).await?)
    }

    fn withdraw_account_stop(&self, account: &str) -> Result<()> {
        let (node, account) = (self.node_name(), account.to_string());
        in_tx!(self, |tx| stops::withdraw(&tx, &node, &account).await?)
    }

    fn account_stops(&self, now: UnixMillis) -> Result<Vec<AccountStopInfo>> {
        in_tx!(self, |tx| stops::live(&tx, now).await?)
    }

    fn take_run_writer(&self, run: &RunId) -> Result<Option<u64>> {
        self.take_writer(run)
    }

    fn release_run_writer(&self, run: &RunId) -> Result<()> {
        self.release_writer(run)
    }

    fn holds_run_writer(&self, run: &RunId) -> Result<bool> {
        self.holds_writer(run)
    }

    fn staged_items_of(&self, run: &RunId, limit: usize) -> Result<Vec<ItemId>> {
        self.staged_of(run, limit)
    }

    fn written_records(
        &self,
        run: &RunId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<WrittenChunk>> {
        self.written_of(run, from_seq, limit)
    }

    fn run_writers(&self) -> Result<Vec<(RunId, String)>> {
        self.writers()
    }
}
