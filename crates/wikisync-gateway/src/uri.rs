//! Node URIs as the gateway uses them: the parser and canonical form are the core's
//! ([`wikisync_core::node`], shared with every host), and the gateway adds how a node is keyed
//! in its store.
//!
//! ```
//! use wikisync_gateway::uri::{NodeUri, is_remote_key, storage_key};
//!
//! let local = NodeUri::parse("xmpp:pubsub.a?;node=wiki/start").expect("a valid URI");
//! assert_eq!(storage_key(&local, "pubsub.a"), "wiki/start");
//! let remote = NodeUri::new("pubsub.b", "wiki");
//! assert!(is_remote_key(&storage_key(&remote, "pubsub.a")));
//! ```

pub use wikisync_core::node::{MAX_URI_LEN, NodeUri, UriError};

/// How the storage key of a node on another service starts (see [`storage_key`]).
pub const REMOTE_KEY_PREFIX: &str = "xmpp:";

/// The key the gateway stores `uri` under, given the service it serves: the bare node id for a
/// node of `local_service`, the canonical URI for a node on another service (a remote
/// subscription in XMPP mode). Local node ids never start with [`REMOTE_KEY_PREFIX`] (the HTTP
/// layer refuses such names), so the two cannot collide.
pub fn storage_key(uri: &NodeUri, local_service: &str) -> String {
    if uri.service() == local_service {
        uri.node().to_owned()
    } else {
        uri.to_string()
    }
}

/// The inverse of [`storage_key`].
pub fn from_storage_key(local_service: &str, key: &str) -> NodeUri {
    if is_remote_key(key)
        && let Ok(uri) = NodeUri::parse(key)
    {
        return uri;
    }
    NodeUri::new(local_service, key)
}

/// Whether a storage key names a node on another service (a remote subscription).
pub fn is_remote_key(key: &str) -> bool {
    key.starts_with(REMOTE_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_round_trip_local_and_remote_nodes() {
        let local = NodeUri::new("pubsub.a", "wiki/start");
        assert_eq!(storage_key(&local, "pubsub.a"), "wiki/start");
        let remote = NodeUri::new("pubsub.b", "wiki;x");
        let key = storage_key(&remote, "pubsub.a");
        assert!(is_remote_key(&key));
        assert_eq!(key, "xmpp:pubsub.b?;node=wiki%3Bx");
        assert_eq!(from_storage_key("pubsub.a", &key), remote);
        assert_eq!(from_storage_key("pubsub.a", "wiki/start"), local);
        assert!(!is_remote_key("generic/123"));
    }
}
