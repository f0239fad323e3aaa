//! Keeping the cache up to date with the pubsub service: the resynchronisation after every new
//! session, the following of nodes of other services, and the background retry of those whose
//! service could not be reached.

use std::sync::Weak;

use tokio_xmpp::minidom::Element;

use super::conn::IqError;
use super::intake::apply;
use super::stanza::{self, PubsubEvent, PubsubRequest};
use super::state::{Shared, store_failure};
use crate::store::sql::xmpp_ops::{self, OpKind};
use crate::store::sql::{items, nodes};
use crate::uri::is_remote_key;

/// After a (re)connection: stop following nodes of other services nobody here subscribes to
/// any more, resubscribe to every other known node and deliver what changed meanwhile.
pub(crate) async fn resync(s: &Shared) -> Result<(), IqError> {
    let now = crate::time::now_ms();
    s.db.call(move |conn, _| {
        for node in nodes::unused_remote(conn)? {
            if nodes::forget(conn, &node)? {
                xmpp_ops::queue(conn, OpKind::Unfollow, &node, None, None, None, now)?;
            }
        }
        Ok(())
    })
    .await
    .map_err(store_failure)?;
    let (known, queued) =
        s.db.call_lazy(|conn| Ok((nodes::list(conn, true)?, xmpp_ops::nodes_to_sync(conn)?)))
            .await
            .map_err(store_failure)?;
    for node in known.into_iter().filter(|n| !queued.contains(n)) {
        if is_remote_key(&node) {
            follow(s, &node).await?;
        } else {
            sync_node(s, &node).await?;
        }
    }
    Ok(())
}

/// Brings a followed node of another service up to date. When that service cannot be
/// reached (its server down, federation broken) while this gateway's own connection is fine,
/// the node is set aside and retried in the background ([`refollow`]) instead of holding up
/// the outbox or the resynchronisation of this service's nodes; only a lost connection is an
/// error.
pub(crate) async fn follow(s: &Shared, key: &str) -> Result<(), IqError> {
    let result = sync_node(s, key).await;
    let mut unreachable = s.unreachable();
    match result {
        Ok(()) => {
            unreachable.remove(key);
            Ok(())
        }
        Err(e @ (IqError::NotConnected | IqError::Disconnected)) => Err(e),
        Err(e) => {
            if unreachable.insert(key.to_owned()) {
                tracing::warn!(node = key, error = %e, "the node's pubsub service cannot be reached; retrying in the background");
            }
            Ok(())
        }
    }
}

/// Tries the unreachable followed nodes again, every `retry_every`, while connected.
pub(crate) async fn refollow(shared: Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let every = s.retry_every;
        drop(s);
        tokio::time::sleep(every).await;
        let Some(s) = shared.upgrade() else { return };
        if s.conn.online().borrow().is_none() {
            continue;
        }
        let waiting: Vec<String> = s.unreachable().iter().cloned().collect();
        for key in waiting {
            match is_known(&s, &key).await {
                Ok(true) => {
                    if follow(&s, &key).await.is_err() {
                        break;
                    }
                }
                _ => {
                    s.unreachable().remove(&key);
                }
            }
        }
    }
}

/// Asks the service how many items it keeps of one of the gateway's own nodes (its
/// configuration form) and remembers it; a warning when that is a fixed number, since a larger
/// namespace then loses its oldest pages on the service. Best effort: a refusal or no answer
/// leaves the cap unknown.
pub(crate) async fn learn_cap(s: &Shared, node: &str) {
    let request = PubsubRequest::GetConfig {
        node: node.to_owned(),
    };
    let cap = match s.conn.iq(&s.service, &request).await {
        Ok(answer) => answer.as_ref().and_then(stanza::parse_item_cap),
        Err(e) => {
            tracing::debug!(node, error = %e, "cannot read the node's configuration");
            None
        }
    };
    let mut caps = s.caps();
    match cap {
        Some(cap) => {
            if caps.insert(node.to_owned(), cap) != Some(cap) {
                tracing::info!(node, service = %s.service, cap, "the pubsub service keeps at most this many items of the node (Prosody: pubsub_max_items; ejabberd: max_items_node)");
            }
        }
        None => {
            caps.remove(node);
        }
    }
}

/// Items asked for per page when reading every item of a node through result set management.
const FETCH_PAGE: u32 = 250;

/// Every item of a node, oldest first (the order Prosody and ejabberd list them in): page by
/// page through XEP-0059 result set management when the service supports it (ejabberd), from
/// the newest page back, else in one answer (Prosody 0.12 ignores the `<set/>` and sends every
/// item it keeps).
async fn fetch_all(s: &Shared, key: &str) -> Result<Vec<(String, Element)>, IqError> {
    let mut pages: Vec<Vec<(String, Element)>> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let anchor = before.clone();
        let answer = s
            .iq_for(key, |node| PubsubRequest::ItemsPage {
                node,
                max: FETCH_PAGE,
                before: anchor,
            })
            .await?;
        let Some(answer) = answer else { break };
        let items = stanza::parse_items(&answer);
        let Some(rsm) = stanza::parse_rsm(&answer) else {
            return Ok(items);
        };
        let more = rsm.more_before(items.len(), FETCH_PAGE);
        pages.push(items);
        match rsm.first {
            // A service that answers the same page again would loop: stop there.
            Some(first) if more && before.as_deref() != Some(first.as_str()) => {
                before = Some(first);
            }
            _ => break,
        }
    }
    Ok(pages.into_iter().rev().flatten().collect())
}

/// Brings one node up to date with its service: subscribes the component (again) and applies
/// what changed while the gateway was not listening: items published (delivered unless
/// identical to the cached ones), items retracted (delivered as retractions), or the node
/// deleted. Only transient failures are errors (the caller retries).
async fn sync_node(s: &Shared, key: &str) -> Result<(), IqError> {
    let found = match fetch_all(s, key).await {
        Ok(found) => found,
        Err(IqError::Refused(r)) if r.condition == "item-not-found" => {
            let deleted = PubsubEvent::Deleted {
                node: key.to_owned(),
                redirect: None,
            };
            apply(s, vec![deleted]).await;
            return Ok(());
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            tracing::warn!(node = key, condition = %r.condition, "cannot read the node's items");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if is_remote_key(key) && !is_known(s, key).await? {
        // Unfollowed meanwhile (its unsubscription is queued after this): stay unsubscribed.
        return Ok(());
    }
    if !is_remote_key(key) {
        learn_cap(s, key).await;
    }
    let result = s
        .iq_for(key, |node| PubsubRequest::Subscribe {
            node,
            jid: s.conn.jid().to_owned(),
        })
        .await;
    match result {
        Ok(_) => {}
        Err(IqError::Refused(r)) if !r.is_transient() => {
            tracing::error!(node = key, condition = %r.condition, "the pubsub service refused the gateway's subscription; events of this node will not reach HTTP subscribers");
        }
        Err(e) => return Err(e),
    }
    let gone = retracted_meanwhile(s, key, &found).await?;
    // Oldest first, as the service lists them, so the newest ends up newest in the cache too.
    let mut events: Vec<PubsubEvent> = found
        .into_iter()
        .map(|(id, payload)| PubsubEvent::Published {
            node: key.to_owned(),
            item: Some(id),
            payload: Some(payload),
        })
        .collect();
    events.extend(gone.into_iter().map(|item| PubsubEvent::Retracted {
        node: key.to_owned(),
        item,
    }));
    apply(s, events).await;
    Ok(())
}

async fn is_known(s: &Shared, key: &str) -> Result<bool, IqError> {
    let key = key.to_owned();
    s.db.call_lazy(move |conn| nodes::exists(conn, &key))
        .await
        .map_err(store_failure)
}

/// The cached items of a node that its service no longer has: retracted (or purged) while
/// the gateway was not listening. The missing ones are asked for by id before they are taken
/// for retracted, so a service that sends fewer items than it keeps (a cap on the size of
/// its answers) never makes the gateway announce retractions.
async fn retracted_meanwhile(
    s: &Shared,
    key: &str,
    found: &[(String, Element)],
) -> Result<Vec<String>, IqError> {
    let node = key.to_owned();
    let cached =
        s.db.call_lazy(move |conn| items::ids(conn, &node))
            .await
            .map_err(store_failure)?;
    let present: std::collections::HashSet<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    let missing: Vec<String> = cached
        .into_iter()
        .filter(|id| !present.contains(id.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let cap = s.caps().get(key).copied();
    if let Some(cap) = cap.filter(|cap| found.len() >= *cap as usize) {
        // At its cap the service drops the oldest items silently: a missing item may have been
        // retracted or dropped, and announcing a retraction would delete a page on every
        // mirror. They stay in the cache, served by /items.
        s.metrics
            .dropped_by_service
            .fetch_add(missing.len() as u64, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(
            node = key,
            cap,
            missing = missing.len(),
            "the pubsub service holds as many items of the node as it keeps at most, and lacks items the gateway has: taken as dropped by its cap, not as retracted (no retraction is delivered); raise Prosody's pubsub_max_items or ejabberd's max_items_node (docs/deploy.md)"
        );
        return Ok(Vec::new());
    }
    let ids = missing.clone();
    match s
        .iq_for(key, |node| PubsubRequest::ItemsById { node, ids })
        .await
    {
        Ok(answer) => {
            let still: Vec<String> = answer
                .map(|a| stanza::parse_items(&a))
                .unwrap_or_default()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            Ok(missing
                .into_iter()
                .filter(|id| !still.contains(id))
                .collect())
        }
        Err(IqError::Refused(r)) if r.condition == "item-not-found" => Ok(missing),
        Err(IqError::Refused(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
