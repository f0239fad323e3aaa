//! What the store takes and gives: requests, items, deliveries, limits.

/// Limits the store enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Items kept per node, oldest dropped beyond it; 0 = no limit (the default: items are
    /// replaced by id, so a node holds one item per page plus drafts, and none may be lost).
    pub max_items_per_node: u32,
    /// Subscriptions per node.
    pub max_subscriptions_per_node: u32,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_items_per_node: 0,
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
    /// The caller's owner id (`token:<hash>` or `site:<site id>`), or `None` when publishing
    /// is open.
    pub owner: Option<String>,
    /// The authenticated site publishing (a site credential), recorded with the item and told
    /// to subscribers; `None` for an anonymous token or open publishing.
    pub publisher: Option<String>,
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
    /// The authenticated site that published it (normalized site id), if known.
    pub publisher: Option<String>,
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
    /// The authenticated site that published (or retracted) the item, if known: sent as
    /// `X-Wikisync-Publisher`, signed with `X-Wikisync-Signature`.
    pub publisher: Option<String>,
}

/// The head of one subscriber's queue, for the delivery scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueHead {
    /// The subscriber's queue key.
    pub sub_key: i64,
    /// When its head delivery is due, Unix ms.
    pub next_attempt_ms: i64,
}

/// Where a page of a node's items begins: the `after` cursor of `GET /items`, opaque to clients
/// (see [`Cursor::encode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cursor {
    /// After the item with this sequence number, for items stored here (embedded nodes, and
    /// the XMPP mode's cache of its own nodes and of the nodes it follows). Sequence numbers
    /// only grow, so pages neither repeat nor skip an item that is left alone meanwhile; an
    /// item published or republished meanwhile gets a higher number, above the pages still to
    /// come (a subscriber gets it as a callback).
    Stored(i64),
    /// Before this XEP-0059 `<first>` of the previous page, for a node of another service read
    /// from its service through result set management.
    Rsm(String),
    /// After the item with this id, for a node of another service whose service cannot page
    /// (it sends every item at once).
    ItemId(String),
}

impl Cursor {
    /// The cursor as clients see it: `s<sequence>`, `r<hex>` or `i<hex>`.
    ///
    /// ```
    /// use wikisync_gateway::store::Cursor;
    ///
    /// let c = Cursor::Rsm("2026-12-04T21:18:20Z".into());
    /// assert_eq!(Cursor::decode(&c.encode()), Some(c));
    /// assert_eq!(Cursor::Stored(42).encode(), "s42");
    /// assert_eq!(Cursor::decode("s-1"), None);
    /// ```
    pub fn encode(&self) -> String {
        match self {
            Self::Stored(seq) => format!("s{seq}"),
            Self::Rsm(first) => format!("r{}", crate::hex::lower(first.as_bytes())),
            Self::ItemId(id) => format!("i{}", crate::hex::lower(id.as_bytes())),
        }
    }

    /// Reads a cursor written by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let text_of = |hex: &str| String::from_utf8(crate::hex::decode(hex)?).ok();
        match text.split_at_checked(1)? {
            ("s", digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().ok().map(Self::Stored)
            }
            ("r", hex) => text_of(hex).map(Self::Rsm),
            ("i", hex) if !hex.is_empty() => text_of(hex).map(Self::ItemId),
            _ => None,
        }
    }
}

/// Which page of a node's items to read, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items.
    pub max: u32,
    /// Stop adding items once their payloads reach this many bytes (a page always holds at
    /// least one item); pages read from another service through result set management are
    /// bounded by `max` only.
    pub max_bytes: usize,
    /// Where to begin: `None` for the newest items.
    pub after: Option<Cursor>,
}

/// One page of a node's items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemPage {
    /// The items, newest first.
    pub items: Vec<Item>,
    /// Where the next page begins; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Why a subscription ended. The gateway remembers it (with when, for the retention set by
/// `--dropped-retention-secs`) so that the subscriber learns it at its next contact
/// (`GET /subscription`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The callback answered `410 Gone`.
    Gone,
    /// The callback kept failing for longer than the failure budget.
    FailureBudget,
    /// The lease ended without a renewal.
    LeaseExpired,
    /// The subscriber unsubscribed (`/unsubscribe`, or WebSub `hub.mode=unsubscribe`).
    Unsubscribed,
    /// The node was deleted (its subscribers got `Event: DELETED`, with the redirect if any).
    NodeDeleted,
}

impl DropReason {
    const ALL: [Self; 5] = [
        Self::Gone,
        Self::FailureBudget,
        Self::LeaseExpired,
        Self::Unsubscribed,
        Self::NodeDeleted,
    ];

    /// The name used in the database, in `/metrics` and in `GET /subscription`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::FailureBudget => "failure_budget",
            Self::LeaseExpired => "lease_expired",
            Self::Unsubscribed => "unsubscribed",
            Self::NodeDeleted => "node_deleted",
        }
    }

    /// The reason named `name`, if this gateway knows it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Where a subscription stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Standing {
    /// Its verification of intent is under way (known to the HTTP layer only).
    Pending,
    /// It receives deliveries.
    Active,
    /// It ended.
    Dropped {
        /// Why.
        reason: DropReason,
        /// When, Unix ms.
        at_ms: i64,
        /// For [`DropReason::NodeDeleted`]: where the node's content went, if the deletion said.
        redirect: Option<String>,
    },
}

/// What the gateway knows of one subscription (node + callback), for `GET /subscription`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState {
    /// The node's storage key (`""`: the root collection).
    pub node: String,
    /// The callback URL.
    pub callback: String,
    /// Pending, active or dropped.
    pub standing: Standing,
    /// Whether it was made through WebSub (`POST /hub`) rather than `/subscribe`.
    pub websub: bool,
    /// When it was made, Unix ms.
    pub created_ms: Option<i64>,
    /// When its lease ends (ended), Unix ms; `None`: no lease.
    pub expires_ms: Option<i64>,
    /// When a delivery to it last succeeded, Unix ms.
    pub last_delivery_ms: Option<i64>,
    /// Deliveries queued for it now.
    pub pending_deliveries: u64,
    /// Failed attempts of the delivery at the head of its queue (its current failure streak).
    pub failures: u32,
    /// When that failure streak began, Unix ms.
    pub failing_since_ms: Option<i64>,
    /// SHA-256 of its secret: the key of the signature of `GET /subscription` (`None`: it has
    /// no secret, so nobody can ask about it).
    pub secret_digest: Option<[u8; 32]>,
}

/// What [`super::Store::subscribe_or_renew`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// A new subscription (the node's newest item is queued for it).
    Added,
    /// An existing subscription got the new lease (and secret); nothing queued.
    Renewed,
}

/// What a sweep of [`super::Store::sweep`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Subscriptions whose lease had ended, now dropped.
    pub expired: u64,
    /// The earliest lease end still to come, Unix ms (the next sweep is due then).
    pub next_lease_end_ms: Option<i64>,
}
