//! The XMPP outbox worker (HTTP → XMPP): sends the operations queued in `xmpp_ops` to the
//! pubsub service in order, pipelined, and removes each once the service answered.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_xmpp::minidom::Element;

use super::conn::IqError;
use super::intake::apply;
use super::stanza::{self, PubsubEvent, PubsubRequest};
use super::state::Shared;
use super::sync::{follow, learn_cap, resync};
use crate::store::sql::xmpp_ops::{self, Op, OpKind};

/// Operations sent to the pubsub service per pipelined batch.
const BATCH: u32 = 64;

/// What became of one operation.
enum Outcome {
    /// Done (or definitely refused, which was logged): remove it.
    Finished,
    /// Not done now (disconnected, timeout, transient refusal): keep it and retry later.
    Retry,
}

/// Sends the queued operations to the pubsub service, in order and pipelined, for as long as
/// the XMPP side exists; resynchronises after every new session first.
pub(crate) async fn worker(shared: Weak<Shared>) {
    let mut synced_epoch = None;
    let mut pause = Duration::from_millis(100);
    loop {
        let Some(s) = shared.upgrade() else { return };
        let conn = s.conn.clone();
        drop(s);
        let epoch = conn.wait_online().await;
        let Some(s) = shared.upgrade() else { return };
        if synced_epoch != Some(epoch) {
            match resync(&s).await {
                Ok(()) => synced_epoch = Some(epoch),
                Err(e) => {
                    tracing::warn!(error = %e, "resynchronisation with the pubsub service failed; retrying");
                    drop(s);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        }
        let ops = match s.db.call_lazy(|conn| xmpp_ops::first(conn, BATCH)).await {
            Ok(ops) => ops,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the XMPP outbox");
                drop(s);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if ops.is_empty() {
            let wake = s.wake.clone();
            let mut online = conn.online();
            drop(s);
            tokio::select! {
                () = wake.notified() => {}
                _ = online.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let outcomes: Vec<Outcome> =
            futures_util::future::join_all(ops.iter().map(|op| perform(&s, op))).await;
        let done = finished_in_order(&ops, &outcomes);
        let retry = done.len() < ops.len();
        if !done.is_empty() {
            let result =
                s.db.call_lazy(move |conn| xmpp_ops::remove(conn, &done))
                    .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot acknowledge XMPP operations");
            }
        }
        drop(s);
        if retry {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        } else {
            pause = Duration::from_millis(100);
        }
    }
}

/// The operations of a batch that can leave the outbox: the finished ones, except those that
/// follow, on the same node, an operation that must be retried. Those are sent again after
/// it, so the service applies a node's operations in the order they were accepted (a publish
/// retried after a later one would otherwise put the older entry back).
fn finished_in_order(ops: &[Op], outcomes: &[Outcome]) -> Vec<i64> {
    let mut held: Vec<&str> = Vec::new();
    let mut done = Vec::new();
    for (op, outcome) in ops.iter().zip(outcomes) {
        match outcome {
            Outcome::Finished if !held.contains(&op.node.as_str()) => done.push(op.id),
            _ => held.push(&op.node),
        }
    }
    done
}

/// Sends one operation (an `ensure` is create-or-configure, then subscribe; a `follow` is
/// subscribe and fetch the items of a node of another service; an `unfollow`, unsubscribe).
async fn perform(s: &Shared, op: &Op) -> Outcome {
    let target = s.target(&op.node);
    let node = target.node().to_owned();
    let Some(kind) = OpKind::parse(&op.kind) else {
        tracing::error!(kind = op.kind, "unknown queued XMPP operation; dropped");
        return Outcome::Finished;
    };
    let request = match kind {
        OpKind::Ensure => return ensure(s, &op.node).await,
        OpKind::Follow => {
            return match follow(s, &op.node).await {
                Ok(()) => Outcome::Finished,
                Err(e) => {
                    tracing::debug!(node = %op.node, error = %e, "following the node will be retried");
                    Outcome::Retry
                }
            };
        }
        OpKind::Unfollow => PubsubRequest::Unsubscribe {
            node,
            jid: s.conn.jid().to_owned(),
        },
        OpKind::Publish => {
            let payload = match op.payload.as_deref().map(stanza::from_text) {
                Some(Ok(p)) => p,
                _ => {
                    tracing::error!(node = %op.node, "queued publish has no usable payload; dropped");
                    return Outcome::Finished;
                }
            };
            PubsubRequest::Publish {
                node,
                item: op.item_id.clone().unwrap_or_else(|| "current".to_owned()),
                payload,
            }
        }
        OpKind::Retract => PubsubRequest::Retract {
            node,
            item: op.item_id.clone().unwrap_or_default(),
        },
        OpKind::Delete => PubsubRequest::Delete {
            node,
            redirect: op.redirect.clone(),
        },
    };
    let result = s.conn.iq(target.service(), &request).await;
    let confirmed = result.is_ok();
    let outcome = outcome(s, &op.node, &request, result);
    if confirmed {
        // Apply our own retraction or deletion at once: the service may not notify its
        // originator, and the event, if it comes, then finds nothing left to deliver.
        let event = match request {
            PubsubRequest::Retract { item, .. } => Some(PubsubEvent::Retracted {
                node: op.node.clone(),
                item,
            }),
            PubsubRequest::Delete { redirect, .. } => Some(PubsubEvent::Deleted {
                node: op.node.clone(),
                redirect,
            }),
            _ => None,
        };
        if let Some(event) = event {
            apply(s, vec![event]).await;
        }
    }
    outcome
}

fn outcome(
    s: &Shared,
    node: &str,
    request: &PubsubRequest,
    result: Result<Option<Element>, IqError>,
) -> Outcome {
    match result {
        Ok(_) => {
            s.metrics.sent.fetch_add(1, Ordering::Relaxed);
            Outcome::Finished
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                node,
                operation = request.kind(),
                service = %s.target(node).service(),
                condition = %r.condition,
                text = r.text.as_deref().unwrap_or(""),
                "the XMPP pubsub service refused the operation; it is dropped"
            );
            Outcome::Finished
        }
        Err(e) => {
            tracing::debug!(node, operation = request.kind(), error = %e, "XMPP operation will be retried");
            Outcome::Retry
        }
    }
}

/// Creates the node with the gateway's configuration, or (it exists) reconfigures it, then
/// subscribes the component. Idempotent.
async fn ensure(s: &Shared, node: &str) -> Outcome {
    let create = PubsubRequest::Create {
        node: node.to_owned(),
        config: s.node_config.clone(),
    };
    match s.conn.iq(&s.service, &create).await {
        Ok(_) => {}
        Err(IqError::Refused(r)) if r.condition == "conflict" => {
            let configure = PubsubRequest::Configure {
                node: node.to_owned(),
                config: s.node_config.clone(),
            };
            match s.conn.iq(&s.service, &configure).await {
                Ok(_) => {}
                Err(IqError::Refused(r)) if !r.is_transient() => {
                    tracing::error!(
                        node,
                        service = %s.service,
                        condition = %r.condition,
                        text = r.text.as_deref().unwrap_or(""),
                        "the XMPP pubsub service refused the node configuration (persist items, max items, notify retract/delete, send last item); the node works but may not behave as wikisync expects"
                    );
                }
                Err(_) => return Outcome::Retry,
            }
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                node,
                service = %s.service,
                condition = %r.condition,
                text = r.text.as_deref().unwrap_or(""),
                "the XMPP pubsub service refused to create the node; allow the component to create nodes (Prosody: list its JID in `admins`; ejabberd: `access_createnode`)"
            );
            return Outcome::Finished;
        }
        Err(_) => return Outcome::Retry,
    }
    learn_cap(s, node).await;
    let subscribe = PubsubRequest::Subscribe {
        node: node.to_owned(),
        jid: s.conn.jid().to_owned(),
    };
    let result = s.conn.iq(&s.service, &subscribe).await;
    outcome(s, node, &subscribe, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: i64, node: &str) -> Op {
        Op {
            id,
            kind: "publish".into(),
            node: node.into(),
            item_id: Some("urn:x".into()),
            payload: None,
            redirect: None,
        }
    }

    #[test]
    fn operations_after_a_retried_one_on_its_node_stay_queued() {
        let ops = [op(1, "a"), op(2, "b"), op(3, "a"), op(4, "b"), op(5, "c")];
        let outcomes = [
            Outcome::Retry,
            Outcome::Finished,
            Outcome::Finished,
            Outcome::Finished,
            Outcome::Finished,
        ];
        assert_eq!(finished_in_order(&ops, &outcomes), [2, 4, 5]);
        let all = [Outcome::Finished, Outcome::Finished];
        assert_eq!(finished_in_order(&ops[..2], &all), [1, 2]);
    }
}
