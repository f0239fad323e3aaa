//! [`Shared`]: the state of the XMPP side, shared by the XMPP nodes and their background tasks
//! (the outbox worker, the event intake, the resynchronisation).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_xmpp::minidom::Element;

use super::conn::{Connection as XmppConnection, IqError};
use super::stanza::{NodeConfig, PubsubRequest};
use crate::store::{Db, ItemKeeping, StoreError};
use crate::uri::NodeUri;

/// Counters of the XMPP side.
#[derive(Debug, Default)]
pub(crate) struct XmppMetrics {
    /// Operations the service accepted.
    pub(crate) sent: AtomicU64,
    /// Operations the service refused (dropped, logged).
    pub(crate) refused: AtomicU64,
    /// Pubsub events received and applied.
    pub(crate) events: AtomicU64,
    /// Items the service dropped because a node reached its item cap (the cache keeps them).
    pub(crate) dropped_by_service: AtomicU64,
}

/// What the XMPP nodes and their tasks share.
pub(crate) struct Shared {
    /// The gateway's database (same thread and transactions as the rest of the store).
    pub(crate) db: Db,
    /// The component's connection to the XMPP server.
    pub(crate) conn: XmppConnection,
    /// The pubsub service JID of this gateway's nodes.
    pub(crate) service: String,
    /// The configuration the gateway gives its nodes.
    pub(crate) node_config: NodeConfig,
    /// How many items the item cache keeps per node (the store's setting and counter).
    pub(crate) items: Arc<ItemKeeping>,
    /// Wakes the outbox worker after an operation was queued.
    pub(crate) wake: Arc<Notify>,
    /// The counters.
    pub(crate) metrics: XmppMetrics,
    /// Followed nodes of other services that could not be brought up to date (their server
    /// unreachable): retried in the background, so they never hold up this service's nodes.
    pub(crate) unreachable: Mutex<BTreeSet<String>>,
    /// How often the unreachable ones are tried again (the keepalive interval).
    pub(crate) retry_every: Duration,
    /// How many items the service keeps of each of the gateway's nodes, where it says
    /// (read from the node's configuration form).
    pub(crate) caps: Mutex<HashMap<String, u32>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last store handle is gone (the gateway stopped): end the XMPP session, so the
        // component's JID is free for the next start.
        self.conn.close();
    }
}

impl Shared {
    /// The service and node id behind a storage key (a node of another service is stored
    /// under its URI: a remote subscription).
    pub(crate) fn target(&self, key: &str) -> NodeUri {
        crate::uri::from_storage_key(&self.service, key)
    }

    /// Sends a request about the node stored under `key` to the node's own service.
    pub(crate) async fn iq_for(
        &self,
        key: &str,
        request: impl FnOnce(String) -> PubsubRequest,
    ) -> Result<Option<Element>, IqError> {
        let target = self.target(key);
        self.conn
            .iq(target.service(), &request(target.node().to_owned()))
            .await
    }

    /// The item caps known, by node.
    pub(crate) fn caps(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A poisoned map only means a holder panicked mid-update; the map itself stays usable.
        self.caps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The followed nodes of other services that could not be reached at the last try.
    pub(crate) fn unreachable(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A poisoned set only means a holder panicked mid-update; the set itself stays usable.
        self.unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A store failure seen by a background task: reported like a failed request, so the task
/// retries later.
pub(crate) fn store_failure(e: StoreError) -> IqError {
    IqError::Build(e.to_string())
}
