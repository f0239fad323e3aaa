//! What the store takes and gives: requests, items, deliveries, limits.

/// Limits the store enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Items kept per node.
    pub max_items_per_node: u32,
    /// Subscriptions per node.
    pub max_subscriptions_per_node: u32,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_items_per_node: 256,
            max_subscriptions_per_node: 1000,
        }
    }
}

/// A publish: an Atom entry stored as item `item_id` of `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    /// The node; `None` creates a new instant node first (owned by `owner`).
    pub node: Option<String>,
    /// The item id (the entry's `atom:id`, an explicit id, or `current`).
    pub item_id: String,
    /// The Atom entry as received.
    pub payload: String,
    /// The publisher (token hash), or `None` when publishing is open.
    pub owner: Option<String>,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
}

/// A subscription request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The node, `""` for the root collection.
    pub node: String,
    /// The callback URL.
    pub callback: String,
    /// The HMAC secret for `X-Hub-Signature`, if any.
    pub secret: Option<String>,
    /// The WebSub topic URL as the subscriber gave it; `None` for an Idavoll-style subscription.
    pub topic: Option<String>,
    /// End of the WebSub lease, Unix ms; `None` = no lease.
    pub expires_ms: Option<i64>,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
}

/// A stored item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The item id.
    pub id: String,
    /// The Atom entry.
    pub payload: String,
}

/// What a delivery tells the subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An item was published: the body is the entry.
    Item,
    /// An item was retracted: `Event: RETRACTED`, the body is an `at:deleted-entry`.
    Retracted,
    /// The node was deleted: `Event: DELETED`, empty body, maybe a redirect.
    Deleted,
}

/// One pending delivery: the head of a subscriber's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The outbox row id.
    pub id: i64,
    /// The subscriber's queue key (its subscription id).
    pub sub_key: i64,
    /// The node the event happened on.
    pub node: String,
    /// What happened.
    pub kind: EventKind,
    /// The item id (items and retractions).
    pub item_id: Option<String>,
    /// The body to POST (entry, tombstone, or empty).
    pub payload: String,
    /// The redirect URI of a node deletion.
    pub redirect: Option<String>,
    /// The callback URL.
    pub callback: String,
    /// The HMAC secret, if any.
    pub secret: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the delivery is due, Unix ms.
    pub next_attempt_ms: i64,
    /// When the current failure streak began, Unix ms.
    pub first_failure_ms: Option<i64>,
    /// The WebSub topic of the subscription (`None`: Idavoll-style).
    pub topic: Option<String>,
    /// When the event happened, Unix ms.
    pub created_ms: i64,
}

/// The head of one subscriber's queue, for the delivery scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueHead {
    /// The subscriber's queue key.
    pub sub_key: i64,
    /// When its head delivery is due, Unix ms.
    pub next_attempt_ms: i64,
}
