//! Wake-ups through `LISTEN`/`NOTIFY`: the triggers of migration 2 notify the schema's
//! channel at commit (`lane NAME`, `staged RUN`, `runs`); one connection per queue
//! handle listens and hands each notice to the daemon's sink.
//!
//! Why a connection of its own: a listening session must stay open and be read all the
//! time, and pooled connections are neither. Why reconnect with `Missed`: PostgreSQL
//! does not keep notifications for a session that was not listening, so after a break
//! the daemon must look at everything once.

use std::time::Duration;

use dredge_queue::{Notice, NoticeSink, RunId};
use futures::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::engine::Res;

/// How long to wait before listening again after the channel broke.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Told once, when the first `LISTEN` succeeded or failed.
pub(crate) type Started = futures::channel::oneshot::Sender<Result<(), dredge_queue::QueueError>>;

/// Listens until the runtime stops; each break is logged, then listened again.
pub(crate) async fn listen_forever(
    config: tokio_postgres::Config,
    node: String,
    sink: NoticeSink,
    started: Started,
) {
    let mut config = config;
    config.application_name(format!("dredge node={node} listener"));
    let mut started = Some(started);
    loop {
        let again = started.is_none();
        if let Err(e) = listen_once(&config, &sink, again, &mut started).await {
            let error = dredge_queue::QueueError::from(e);
            match started.take() {
                Some(tell) => {
                    let _ = tell.send(Err(error));
                    return;
                }
                None => {
                    tracing::warn!(%error, "the PostgreSQL wake-up channel broke; listening again")
                }
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    sink: &NoticeSink,
    missed: bool,
    started: &mut Option<Started>,
) -> Res<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<String>();
    // The connection must be polled for notifications to arrive; it ends with an
    // error or when the client is dropped.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = tx.unbounded_send(n.payload().to_string());
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    let channel: String = client
        .query_one("SELECT notify_channel()", &[])
        .await?
        .get(0);
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    if let Some(tell) = started.take() {
        let _ = tell.send(Ok(()));
    }
    if missed {
        sink(Notice::Missed);
    }
    while let Some(payload) = rx.next().await {
        if let Some(notice) = parse(&payload) {
            sink(notice);
        }
    }
    drop(client);
    match driver.await {
        Ok(Err(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

/// A notification's payload as a notice; `None` for one this version does not know.
fn parse(payload: &str) -> Option<Notice> {
    match payload.split_once(' ') {
        Some(("lane", lane)) => Some(Notice::Lane(lane.to_string())),
        Some(("staged", run)) => Some(Notice::Staged(RunId(run.to_string()))),
        None if payload == "runs" => Some(Notice::Runs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_as_notices_and_unknown_ones_are_ignored() {
        assert_eq!(parse("lane zyte eu"), Some(Notice::Lane("zyte eu".into())));
        assert_eq!(
            parse("staged 20261207T000000Z-0001"),
            Some(Notice::Staged(RunId("20261207T000000Z-0001".into())))
        );
        assert_eq!(parse("runs"), Some(Notice::Runs));
        assert_eq!(parse("later kind"), None);
        assert_eq!(parse("lanes"), None);
    }
}
