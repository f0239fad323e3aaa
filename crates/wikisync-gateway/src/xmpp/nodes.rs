//! [`XmppNodes`]: the nodes of the XMPP mode. They live on the pubsub service: a change is
//! queued in the durable XMPP outbox (table `xmpp_ops`, sent by [`super::outbox`]) in the
//! store's transaction, and comes back as a pubsub event that fills the item cache and the
//! delivery outbox ([`super::intake`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::conn::IqError;
use super::stanza::{self, PubsubRequest};
use super::state::Shared;
use crate::store::sql::xmpp_ops::{self, OpKind};
use crate::store::sql::{Filled, items, nodes};
use tokio_xmpp::minidom::Element;

use crate::store::{
    BoxFuture, Cursor, Item, ItemPage, NodeChange, Nodes, PageRequest, StoreError, XmppStatus,
};
use crate::uri::is_remote_key;

/// The nodes of the XMPP mode (see the module docs).
#[derive(Clone)]
pub(crate) struct XmppNodes {
    pub(crate) inner: Arc<Shared>,
}

impl XmppNodes {
    /// Whether the component is connected.
    fn is_online(&self) -> bool {
        self.inner.conn.online().borrow().is_some()
    }

    /// Whether a node of another service exists: asks that service (through the XMPP
    /// server, so across federation too). Not recorded: subscribing does that.
    async fn probe_remote(&self, key: &str) -> Result<bool, StoreError> {
        let result = self
            .inner
            .iq_for(key, |node| PubsubRequest::Items { node, max: Some(1) })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => remote_refusal(e).map(|_: ()| false),
        }
    }

    /// Adopts a node that exists on the service but not here (created by an XMPP client or
    /// another gateway): records it and queues its configuration and subscription.
    async fn adopt(&self, node: String) -> Result<bool, StoreError> {
        let shared = &self.inner;
        if is_remote_key(&node) || !self.is_online() {
            return Ok(false);
        }
        let probe = PubsubRequest::Items {
            node: node.clone(),
            max: Some(1),
        };
        match shared.conn.iq(&shared.service, &probe).await {
            Ok(_) => {}
            Err(IqError::Refused(r)) => {
                tracing::debug!(node, refusal = %r, "node not adoptable");
                return Ok(false);
            }
            Err(_) => return Ok(false),
        }
        let now = crate::time::now_ms();
        shared
            .db
            .call(move |conn, _| {
                nodes::record(conn, &node, now)?;
                xmpp_ops::queue(conn, OpKind::Ensure, &node, None, None, None, now)
            })
            .await?;
        shared.wake.notify_one();
        Ok(true)
    }
}

/// How a request about a node of another service failed: `item-not-found` is `Ok` (the node
/// does not exist), any other refusal or failure an error.
fn remote_refusal(e: IqError) -> Result<(), StoreError> {
    match e {
        IqError::Refused(r) if r.condition == "item-not-found" => Ok(()),
        IqError::Refused(r) if !r.is_transient() => Err(StoreError::RemoteRefused(r.to_string())),
        e => Err(StoreError::RemoteUnavailable(e.to_string())),
    }
}

impl Nodes for XmppNodes {
    fn apply(
        &self,
        conn: &Connection,
        _filled: &mut Filled,
        change: NodeChange<'_>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let queue = |kind: OpKind,
                     node: &str,
                     item_id: Option<&str>,
                     payload: Option<&str>,
                     redirect: Option<&str>| {
            xmpp_ops::queue(conn, kind, node, item_id, payload, redirect, now_ms)
        };
        match change {
            NodeChange::Create { node } => queue(OpKind::Ensure, node, None, None, None),
            NodeChange::Follow { node } => queue(OpKind::Follow, node, None, None, None),
            NodeChange::Unfollow { node } => queue(OpKind::Unfollow, node, None, None, None),
            NodeChange::Publish { node, item } => queue(
                OpKind::Publish,
                node,
                Some(&item.id),
                Some(&item.payload),
                None,
            ),
            NodeChange::Retract { node, item_id, .. } => {
                let known = items::payload(conn, node, item_id)?.is_some()
                    || xmpp_ops::publish_queued(conn, node, item_id)?;
                if !known {
                    return Err(StoreError::ItemNotFound(item_id.to_owned()));
                }
                queue(OpKind::Retract, node, Some(item_id), None, None)
            }
            NodeChange::Delete { node, redirect } => {
                queue(OpKind::Delete, node, None, None, redirect)
            }
        }
    }

    fn accepts(&self, payload: &str) -> Result<(), StoreError> {
        // Fail now, not in the worker, if the service could not take the payload.
        stanza::from_text(payload)
            .map(|_| ())
            .map_err(|e| StoreError::Database(format!("entry not usable as XML: {e}")))
    }

    fn committed(&self) {
        self.inner.wake.notify_one();
    }

    fn find(&self, node: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            if is_remote_key(&node) {
                self.probe_remote(&node).await
            } else {
                self.adopt(node).await
            }
        })
    }

    fn remote_page(
        &self,
        node: String,
        req: PageRequest,
    ) -> BoxFuture<'_, Result<ItemPage, StoreError>> {
        Box::pin(async move {
            let request = |n: String| match &req.after {
                // The service sent everything last time: it cannot page.
                Some(Cursor::ItemId(_)) => PubsubRequest::Items { node: n, max: None },
                Some(Cursor::Rsm(first)) => PubsubRequest::ItemsPage {
                    node: n,
                    max: req.max,
                    before: Some(first.clone()),
                },
                _ => PubsubRequest::ItemsPage {
                    node: n,
                    max: req.max,
                    before: None,
                },
            };
            let answer = match self.inner.iq_for(&node, request).await {
                Ok(answer) => answer,
                Err(e) => {
                    remote_refusal(e)?;
                    return Err(StoreError::NodeNotFound(node));
                }
            };
            let Some(answer) = answer else {
                return Ok(ItemPage::default());
            };
            let items = received_items(&answer);
            match stanza::parse_rsm(&answer) {
                Some(rsm) => {
                    let more = rsm.more_before(items.len(), req.max);
                    Ok(ItemPage {
                        // Each page comes oldest first; the pages go from the newest back.
                        items: items.into_iter().rev().collect(),
                        next: rsm.first.filter(|_| more).map(Cursor::Rsm),
                    })
                }
                None if matches!(req.after, Some(Cursor::Rsm(_))) => Err(StoreError::BadCursor(
                    "the node's service no longer pages its items; start again without after"
                        .to_owned(),
                )),
                // No result set management (Prosody 0.12): every item came, oldest first (as
                // Prosody and ejabberd list them); the pages are cut here.
                None => {
                    let after = match &req.after {
                        Some(Cursor::ItemId(id)) => Some(id.as_str()),
                        _ => None,
                    };
                    slice_page(items.into_iter().rev().collect(), after, &req)
                }
            }
        })
    }

    fn remote_nodes(&self) -> bool {
        true
    }

    fn status(&self) -> BoxFuture<'_, Result<Option<XmppStatus>, StoreError>> {
        Box::pin(async move {
            let (pending_ops, remote_nodes) = self
                .inner
                .db
                .call_lazy(|conn| Ok((xmpp_ops::count(conn)?, nodes::count_remote(conn)?)))
                .await?;
            let m = &self.inner.metrics;
            Ok(Some(XmppStatus {
                connected: self.is_online(),
                sessions: self.inner.conn.sessions(),
                pending_ops,
                ops_sent: m.sent.load(Ordering::Relaxed),
                ops_refused: m.refused.load(Ordering::Relaxed),
                events: m.events.load(Ordering::Relaxed),
                remote_nodes,
                remote_unreachable: self.inner.unreachable().len() as u64,
                items_dropped_by_service: m.dropped_by_service.load(Ordering::Relaxed),
            }))
        })
    }
}

/// The items of an `items` answer as text, in the service's order (payloads that cannot be
/// written out are left out, with a warning).
fn received_items(answer: &Element) -> Vec<Item> {
    stanza::parse_items(answer)
        .into_iter()
        .filter_map(|(id, payload)| match stanza::to_text(&payload) {
            Ok(payload) => Some(Item {
                id,
                payload,
                // Not yet: the publisher's JID is not mapped to a site id in XMPP mode.
                publisher: None,
            }),
            Err(e) => {
                tracing::warn!(item = id, error = %e, "an item's payload cannot be written out; left out");
                None
            }
        })
        .collect()
}

/// One page cut from every item of a node (newest first): the items after the one with id
/// `after` (from the start with `None`), as many as `req` allows.
fn slice_page(
    newest_first: Vec<Item>,
    after: Option<&str>,
    req: &PageRequest,
) -> Result<ItemPage, StoreError> {
    let start = match after {
        None => 0,
        Some(id) => {
            newest_first
                .iter()
                .position(|i| i.id == id)
                .ok_or_else(|| {
                    StoreError::BadCursor(
                        "the item this page continues from was retracted or republished meanwhile; start again without after"
                            .to_owned(),
                    )
                })?
                + 1
        }
    };
    let mut page = ItemPage::default();
    let mut bytes = 0usize;
    let mut rest = newest_first.into_iter().skip(start).peekable();
    while let Some(item) = rest.next_if(|item| {
        page.items.is_empty()
            || (page.items.len() < req.max as usize
                && bytes.saturating_add(item.payload.len()) <= req.max_bytes)
    }) {
        bytes = bytes.saturating_add(item.payload.len());
        page.items.push(item);
    }
    if rest.peek().is_some() {
        page.next = page.items.last().map(|i| Cursor::ItemId(i.id.clone()));
    }
    Ok(page)
}
