//! XEP-0060 requests the gateway sends and the events it reads, as plain XML elements.
//!
//! Built by hand on `minidom` rather than with xmpp-parsers' typed pubsub structs: the few
//! requests are short, some (unsubscribe, a node configuration form) cannot be built with the
//! typed API, and the Atom payload must pass through as an untouched element anyway.
//!
//! ```
//! use wikisync_gateway::xmpp::stanza::{PubsubRequest, parse_event, PubsubEvent};
//! use tokio_xmpp::minidom::Element;
//!
//! let request = PubsubRequest::Retract { node: "wiki".into(), item: "urn:x".into() };
//! let xml = String::from(&request.to_element().expect("valid"));
//! assert!(xml.contains("notify=\"true\"") || xml.contains("notify='true'"));
//!
//! let event: Element = "<event xmlns='http://jabber.org/protocol/pubsub#event'>\
//!     <delete node='wiki'><redirect uri='xmpp:other?;node=wiki'/></delete></event>"
//!     .parse().expect("xml");
//! assert_eq!(
//!     parse_event(&event),
//!     vec![PubsubEvent::Deleted { node: "wiki".into(), redirect: Some("xmpp:other?;node=wiki".into()) }]
//! );
//! ```

use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;

/// `http://jabber.org/protocol/pubsub`
pub const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// `http://jabber.org/protocol/pubsub#owner`
pub const NS_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";
/// `http://jabber.org/protocol/pubsub#event`
pub const NS_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
/// `jabber:x:data` (XEP-0004 data forms)
pub const NS_DATA: &str = "jabber:x:data";
/// `urn:xmpp:ping` (XEP-0199)
pub const NS_PING: &str = "urn:xmpp:ping";
/// `http://jabber.org/protocol/disco#info` (XEP-0030)
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// `urn:ietf:params:xml:ns:xmpp-stanzas` (stanza error conditions)
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// `http://jabber.org/protocol/rsm` (XEP-0059 result set management)
pub const NS_RSM: &str = "http://jabber.org/protocol/rsm";

/// The node configuration the gateway asserts on every node it creates or adopts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `pubsub#max_items`: items kept per node; 0 asks for `max` (XEP-0060 1.15: as many as
    /// the service allows; Prosody and ejabberd cap it with a setting of their own, see
    /// `docs/deploy.md`).
    pub max_items: u32,
}

impl NodeConfig {
    /// The value of `pubsub#max_items`: the number, or `max` for 0 (no limit of ours).
    pub fn max_items_value(&self) -> String {
        match self.max_items {
            0 => "max".to_owned(),
            n => n.to_string(),
        }
    }

    /// The `jabber:x:data` form of `type` (`submit`): persist items, keep `max_items` (or
    /// `max`), notify retractions and deletions, send the last published item on subscription,
    /// deliver payloads.
    pub fn form(&self) -> Result<Element, StanzaBuildError> {
        let fields = [
            (
                "FORM_TYPE",
                "http://jabber.org/protocol/pubsub#node_config".to_owned(),
            ),
            ("pubsub#persist_items", "1".to_owned()),
            ("pubsub#max_items", self.max_items_value()),
            ("pubsub#notify_retract", "1".to_owned()),
            ("pubsub#notify_delete", "1".to_owned()),
            ("pubsub#deliver_payloads", "1".to_owned()),
            ("pubsub#send_last_published_item", "on_sub".to_owned()),
        ];
        let mut x = el("x", NS_DATA, &[("type", "submit")])?;
        for (var, value) in fields {
            let mut field = el("field", NS_DATA, &[("var", var)])?;
            if var == "FORM_TYPE" {
                set(&mut field, "type", "hidden")?;
            }
            let mut v = Element::bare("value", NS_DATA);
            v.append_text(value);
            field.append_child(v);
            x.append_child(field);
        }
        Ok(x)
    }
}

/// A pubsub request to the service (the payload of an IQ).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PubsubRequest {
    /// `set`: create `node` with `config` (`<create/><configure>form</configure>`).
    Create {
        /// The node id.
        node: String,
        /// The configuration to create it with.
        config: NodeConfig,
    },
    /// `set` (owner): configure an existing node.
    Configure {
        /// The node id.
        node: String,
        /// The configuration.
        config: NodeConfig,
    },
    /// `set`: subscribe `jid` to `node`.
    Subscribe {
        /// The node id.
        node: String,
        /// The subscriber (the gateway's component JID).
        jid: String,
    },
    /// `set`: unsubscribe `jid` from `node`.
    Unsubscribe {
        /// The node id.
        node: String,
        /// The subscriber.
        jid: String,
    },
    /// `set`: publish one item.
    Publish {
        /// The node id.
        node: String,
        /// The item id.
        item: String,
        /// The payload (an Atom entry).
        payload: Element,
    },
    /// `set`: retract one item, with `notify='true'` (Prosody notifies only then).
    Retract {
        /// The node id.
        node: String,
        /// The item id.
        item: String,
    },
    /// `set` (owner): delete a node, optionally redirecting subscribers.
    Delete {
        /// The node id.
        node: String,
        /// The `xmpp:` URI subscribers should follow.
        redirect: Option<String>,
    },
    /// `get`: the newest `max` items of a node (`max_items`), or every item it has (`None`).
    Items {
        /// The node id.
        node: String,
        /// How many items at most.
        max: Option<u32>,
    },
    /// `get`: one page of a node's items through XEP-0059 result set management, paging from
    /// the newest backwards: the `max` items before `before` (the RSM `<first>` of the previous
    /// page), or the newest `max` with `before = None` (an empty `<before/>`). A service
    /// without RSM ignores the `<set/>` and answers with every item (see [`parse_rsm`]).
    ItemsPage {
        /// The node id.
        node: String,
        /// Items per page.
        max: u32,
        /// Where the previous page began.
        before: Option<String>,
    },
    /// `get`: the items of a node with the given ids (those that no longer exist are left out
    /// of the answer, or the whole answer is `item-not-found`).
    ItemsById {
        /// The node id.
        node: String,
        /// The item ids.
        ids: Vec<String>,
    },
    /// `get` (owner): a node's configuration form, to learn how many items the service keeps
    /// ([`parse_item_cap`]).
    GetConfig {
        /// The node id.
        node: String,
    },
    /// `get`: XEP-0199 ping (to the server).
    Ping,
}

/// Why a request could not be turned into XML.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StanzaBuildError {
    /// An attribute name was not a valid XML name (a bug: every name is a constant).
    #[error("invalid attribute name {0:?}")]
    AttributeName(String),
}

impl PubsubRequest {
    /// Whether the request is an IQ `get` (else `set`).
    pub fn is_get(&self) -> bool {
        matches!(
            self,
            Self::Items { .. }
                | Self::ItemsPage { .. }
                | Self::ItemsById { .. }
                | Self::GetConfig { .. }
                | Self::Ping
        )
    }

    /// The IQ payload element.
    pub fn to_element(&self) -> Result<Element, StanzaBuildError> {
        let pubsub = |ns: &str, children: Vec<Element>| {
            let mut p = Element::bare("pubsub", ns);
            for c in children {
                p.append_child(c);
            }
            p
        };
        Ok(match self {
            Self::Create { node, config } => {
                let mut configure = Element::bare("configure", NS_PUBSUB);
                configure.append_child(config.form()?);
                pubsub(
                    NS_PUBSUB,
                    vec![el("create", NS_PUBSUB, &[("node", node)])?, configure],
                )
            }
            Self::Configure { node, config } => {
                let mut configure = el("configure", NS_OWNER, &[("node", node)])?;
                configure.append_child(config.form()?);
                pubsub(NS_OWNER, vec![configure])
            }
            Self::Subscribe { node, jid } => pubsub(
                NS_PUBSUB,
                vec![el("subscribe", NS_PUBSUB, &[("node", node), ("jid", jid)])?],
            ),
            Self::Unsubscribe { node, jid } => pubsub(
                NS_PUBSUB,
                vec![el(
                    "unsubscribe",
                    NS_PUBSUB,
                    &[("node", node), ("jid", jid)],
                )?],
            ),
            Self::Publish {
                node,
                item,
                payload,
            } => {
                let mut it = el("item", NS_PUBSUB, &[("id", item)])?;
                it.append_child(payload.clone());
                let mut publish = el("publish", NS_PUBSUB, &[("node", node)])?;
                publish.append_child(it);
                pubsub(NS_PUBSUB, vec![publish])
            }
            Self::Retract { node, item } => {
                let mut retract = el("retract", NS_PUBSUB, &[("node", node), ("notify", "true")])?;
                retract.append_child(el("item", NS_PUBSUB, &[("id", item)])?);
                pubsub(NS_PUBSUB, vec![retract])
            }
            Self::Delete { node, redirect } => {
                let mut delete = el("delete", NS_OWNER, &[("node", node)])?;
                if let Some(uri) = redirect {
                    delete.append_child(el("redirect", NS_OWNER, &[("uri", uri)])?);
                }
                pubsub(NS_OWNER, vec![delete])
            }
            Self::Items { node, max } => {
                let max = max.map(|m| m.to_string());
                let mut attrs = vec![("node", node.as_str())];
                if let Some(max) = &max {
                    attrs.push(("max_items", max));
                }
                pubsub(NS_PUBSUB, vec![el("items", NS_PUBSUB, &attrs)?])
            }
            Self::ItemsPage { node, max, before } => {
                let mut set = Element::bare("set", NS_RSM);
                let mut m = Element::bare("max", NS_RSM);
                m.append_text(max.to_string());
                set.append_child(m);
                let mut b = Element::bare("before", NS_RSM);
                if let Some(before) = before {
                    b.append_text(before.clone());
                }
                set.append_child(b);
                pubsub(
                    NS_PUBSUB,
                    vec![el("items", NS_PUBSUB, &[("node", node)])?, set],
                )
            }
            Self::ItemsById { node, ids } => {
                let mut items = el("items", NS_PUBSUB, &[("node", node)])?;
                for id in ids {
                    items.append_child(el("item", NS_PUBSUB, &[("id", id)])?);
                }
                pubsub(NS_PUBSUB, vec![items])
            }
            Self::GetConfig { node } => pubsub(
                NS_OWNER,
                vec![el("configure", NS_OWNER, &[("node", node)])?],
            ),
            Self::Ping => Element::bare("ping", NS_PING),
        })
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Configure { .. } | Self::GetConfig { .. } => "configure",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Publish { .. } => "publish",
            Self::Retract { .. } => "retract",
            Self::Delete { .. } => "delete",
            Self::Items { .. } | Self::ItemsPage { .. } | Self::ItemsById { .. } => "items",
            Self::Ping => "ping",
        }
    }
}

fn set(e: &mut Element, name: &str, value: &str) -> Result<(), StanzaBuildError> {
    let name =
        NcName::try_from(name).map_err(|_| StanzaBuildError::AttributeName(name.to_owned()))?;
    e.set_attr(
        tokio_xmpp::minidom::rxml::Namespace::NONE,
        name,
        value.to_owned(),
    );
    Ok(())
}

fn el(name: &str, ns: &str, attrs: &[(&str, &str)]) -> Result<Element, StanzaBuildError> {
    let mut e = Element::bare(name, ns);
    for (k, v) in attrs {
        set(&mut e, k, v)?;
    }
    Ok(e)
}

/// One thing that happened on a node, read from a `pubsub#event` message payload.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PubsubEvent {
    /// An item was published (`payload` is its first child element, if any).
    Published {
        /// The node id.
        node: String,
        /// The item id (`None` when the service sent none, which a persistent node never does).
        item: Option<String>,
        /// The payload element.
        payload: Option<Element>,
    },
    /// An item was retracted.
    Retracted {
        /// The node id.
        node: String,
        /// The item id.
        item: String,
    },
    /// The node was deleted.
    Deleted {
        /// The node id.
        node: String,
        /// The redirect URI, if the owner gave one.
        redirect: Option<String>,
    },
    /// All items of the node were purged.
    Purged {
        /// The node id.
        node: String,
    },
}

/// The events in one `<event xmlns='…pubsub#event'>` element, in document order; anything else
/// (configuration, subscription notices, an element in another namespace) gives none.
pub fn parse_event(event: &Element) -> Vec<PubsubEvent> {
    let mut out = Vec::new();
    if !event.is("event", NS_EVENT) {
        return out;
    }
    for child in event.children() {
        let Some(node) = child.attr("node").map(str::to_owned) else {
            continue;
        };
        if child.is("items", NS_EVENT) {
            for entry in child.children() {
                if entry.is("item", NS_EVENT) {
                    out.push(PubsubEvent::Published {
                        node: node.clone(),
                        item: entry.attr("id").map(str::to_owned),
                        payload: entry.children().next().cloned(),
                    });
                } else if entry.is("retract", NS_EVENT)
                    && let Some(id) = entry.attr("id")
                {
                    out.push(PubsubEvent::Retracted {
                        node: node.clone(),
                        item: id.to_owned(),
                    });
                }
            }
        } else if child.is("delete", NS_EVENT) {
            let redirect = child
                .get_child("redirect", NS_EVENT)
                .and_then(|r| r.attr("uri"))
                .map(str::to_owned);
            out.push(PubsubEvent::Deleted { node, redirect });
        } else if child.is("purge", NS_EVENT) {
            out.push(PubsubEvent::Purged { node });
        }
    }
    out
}

/// The items of an `items` result (`<pubsub><items><item id>payload</item>…`), in the order the
/// service sent them, as (id, payload) pairs; items without id or payload are left out.
pub fn parse_items(result: &Element) -> Vec<(String, Element)> {
    result
        .get_child("items", NS_PUBSUB)
        .map(|items| {
            items
                .children()
                .filter(|i| i.is("item", NS_PUBSUB))
                .filter_map(|i| Some((i.attr("id")?.to_owned(), i.children().next()?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// What an `items` result says about its place in the whole list (XEP-0059), when the service
/// pages: `None` from [`parse_rsm`] means the service ignored the request's `<set/>` (Prosody
/// 0.12 does) and answered with every item it keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsmResult {
    /// The id of the page's first item in the service's order (`<first>`), to ask for the
    /// page before it.
    pub first: Option<String>,
    /// The position of that item in the whole list (`<first index>`), if given.
    pub first_index: Option<u64>,
    /// The number of items in the whole list (`<count>`), if given.
    pub count: Option<u64>,
}

impl RsmResult {
    /// Whether items come before this page (older ones, paging backwards): by the index when
    /// the service gives it, else whenever the page was full.
    pub fn more_before(&self, page_len: usize, max: u32) -> bool {
        match (self.first.as_ref(), self.first_index) {
            (None, _) => false,
            (Some(_), Some(index)) => index > 0,
            (Some(_), None) => page_len >= max as usize,
        }
    }
}

/// The result set of an `items` result (`<pubsub><set xmlns='…rsm'>`), if the service paged it.
pub fn parse_rsm(result: &Element) -> Option<RsmResult> {
    let set = result.get_child("set", NS_RSM)?;
    let first = set.get_child("first", NS_RSM);
    Some(RsmResult {
        first: first.map(Element::text),
        first_index: first
            .and_then(|f| f.attr("index"))
            .and_then(|i| i.parse().ok()),
        count: set
            .get_child("count", NS_RSM)
            .and_then(|c| c.text().trim().parse().ok()),
    })
}

/// `http://jabber.org/protocol/xdata-validate` (XEP-0122 data form validation)
pub const NS_XDATA_VALIDATE: &str = "http://jabber.org/protocol/xdata-validate";

/// How many items the service keeps of a node, from its configuration form (a `GetConfig`
/// answer): the `pubsub#max_items` number, or for `max` the upper bound the service declares for
/// it (Prosody: its `pubsub_max_items`). `None` when the form says neither (ejabberd declares no
/// bound for `max`: its `max_items_node`).
pub fn parse_item_cap(result: &Element) -> Option<u32> {
    let form = result
        .get_child("configure", NS_OWNER)?
        .get_child("x", NS_DATA)?;
    let field = form
        .children()
        .find(|f| f.is("field", NS_DATA) && f.attr("var") == Some("pubsub#max_items"))?;
    let value = field.get_child("value", NS_DATA).map(Element::text)?;
    if let Ok(n) = value.trim().parse() {
        return Some(n);
    }
    field
        .get_child("validate", NS_XDATA_VALIDATE)?
        .get_child("range", NS_XDATA_VALIDATE)?
        .attr("max")?
        .parse()
        .ok()
}

/// Serializes an element (a payload) to text.
pub fn to_text(e: &Element) -> Result<String, String> {
    let mut out = Vec::new();
    e.write_to(&mut out).map_err(|err| err.to_string())?;
    String::from_utf8(out).map_err(|err| err.to_string())
}

/// Parses text (an Atom entry as received over HTTP) into an element.
pub fn from_text(text: &str) -> Result<Element, String> {
    text.parse::<Element>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Element {
        s.parse().expect("test XML is well-formed")
    }

    #[test]
    fn create_carries_the_full_configuration_form() {
        let e = PubsubRequest::Create {
            node: "n1".into(),
            config: NodeConfig { max_items: 42 },
        }
        .to_element()
        .expect("builds");
        let create = e.get_child("create", NS_PUBSUB).expect("create");
        assert_eq!(create.attr("node"), Some("n1"));
        let form = e
            .get_child("configure", NS_PUBSUB)
            .and_then(|c| c.get_child("x", NS_DATA))
            .expect("form");
        let value = |var: &str| {
            form.children()
                .find(|f| f.attr("var") == Some(var))
                .and_then(|f| f.get_child("value", NS_DATA))
                .map(Element::text)
        };
        assert_eq!(value("pubsub#max_items").as_deref(), Some("42"));
        assert_eq!(value("pubsub#notify_retract").as_deref(), Some("1"));
        assert_eq!(value("pubsub#notify_delete").as_deref(), Some("1"));
        assert_eq!(value("pubsub#persist_items").as_deref(), Some("1"));
        assert_eq!(
            value("pubsub#send_last_published_item").as_deref(),
            Some("on_sub")
        );
        let unlimited = NodeConfig { max_items: 0 };
        assert_eq!(unlimited.max_items_value(), "max", "0 = keep all items");
    }

    #[test]
    fn owner_requests_use_the_owner_namespace() {
        let d = PubsubRequest::Delete {
            node: "n".into(),
            redirect: Some("xmpp:x?;node=m".into()),
        }
        .to_element()
        .expect("builds");
        assert!(d.is("pubsub", NS_OWNER));
        let delete = d.get_child("delete", NS_OWNER).expect("delete");
        assert_eq!(
            delete
                .get_child("redirect", NS_OWNER)
                .and_then(|r| r.attr("uri")),
            Some("xmpp:x?;node=m")
        );
        let c = PubsubRequest::Configure {
            node: "n".into(),
            config: NodeConfig { max_items: 1 },
        }
        .to_element()
        .expect("builds");
        assert!(c.get_child("configure", NS_OWNER).is_some());
        assert!(
            PubsubRequest::Items {
                node: "n".into(),
                max: Some(3)
            }
            .is_get()
        );
        assert!(
            !PubsubRequest::Retract {
                node: "n".into(),
                item: "i".into()
            }
            .is_get()
        );
    }

    #[test]
    fn publish_wraps_the_payload_unchanged() {
        let entry = parse("<entry xmlns='http://www.w3.org/2005/Atom'><id>urn:a</id></entry>");
        let p = PubsubRequest::Publish {
            node: "n".into(),
            item: "urn:a".into(),
            payload: entry.clone(),
        }
        .to_element()
        .expect("builds");
        let item = p
            .get_child("publish", NS_PUBSUB)
            .and_then(|x| x.get_child("item", NS_PUBSUB))
            .expect("item");
        assert_eq!(item.attr("id"), Some("urn:a"));
        assert_eq!(item.children().next(), Some(&entry));
    }

    #[test]
    fn events_of_every_kind_are_read_in_order() {
        let e = parse(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>\
             <items node='n'><item id='a'><entry xmlns='http://www.w3.org/2005/Atom'/></item>\
             <retract id='b'/></items><purge node='m'/><delete node='k'/>\
             <configuration node='n'/></event>",
        );
        let events = parse_event(&e);
        assert_eq!(events.len(), 4);
        assert!(
            matches!(&events[0], PubsubEvent::Published { node, item: Some(i), payload: Some(p) }
            if node == "n" && i == "a" && p.name() == "entry")
        );
        assert_eq!(
            events[1],
            PubsubEvent::Retracted {
                node: "n".into(),
                item: "b".into()
            }
        );
        assert_eq!(events[2], PubsubEvent::Purged { node: "m".into() });
        assert_eq!(
            events[3],
            PubsubEvent::Deleted {
                node: "k".into(),
                redirect: None
            }
        );
        assert!(
            parse_event(&parse("<event xmlns='urn:other'><purge node='x'/></event>")).is_empty()
        );
    }

    #[test]
    fn a_redirect_to_another_gateway_feed_url_travels_as_it_is() {
        // XEP-0060 allows any URI as the redirect: another gateway's feed URL goes to the
        // service unchanged, and comes back unchanged in the deletion event.
        let feed = "http://gw2.example:8081/items?uri=xmpp%3Aps2%3F%3Bnode%3Dn";
        let d = PubsubRequest::Delete {
            node: "n".into(),
            redirect: Some(feed.into()),
        }
        .to_element()
        .expect("builds");
        let sent = d
            .get_child("delete", NS_OWNER)
            .and_then(|x| x.get_child("redirect", NS_OWNER))
            .and_then(|r| r.attr("uri"));
        assert_eq!(sent, Some(feed));
        let event = parse(&format!(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='n'><redirect uri='{feed}'/></delete></event>"
        ));
        assert_eq!(
            parse_event(&event),
            vec![PubsubEvent::Deleted {
                node: "n".into(),
                redirect: Some(feed.into())
            }]
        );
    }

    #[test]
    fn items_by_id_names_each_item() {
        let r = PubsubRequest::ItemsById {
            node: "n".into(),
            ids: vec!["a".into(), "b".into()],
        };
        assert!(r.is_get());
        let e = r.to_element().expect("builds");
        let items = e.get_child("items", NS_PUBSUB).expect("items");
        assert_eq!(items.attr("node"), Some("n"));
        let ids: Vec<_> = items.children().filter_map(|i| i.attr("id")).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn item_pages_ask_backwards_and_read_the_result_set() {
        let newest = PubsubRequest::ItemsPage {
            node: "n".into(),
            max: 4,
            before: None,
        }
        .to_element()
        .expect("builds");
        let set = newest.get_child("set", NS_RSM).expect("rsm set");
        assert_eq!(
            set.get_child("max", NS_RSM).map(Element::text).as_deref(),
            Some("4")
        );
        assert_eq!(
            set.get_child("before", NS_RSM)
                .map(Element::text)
                .as_deref(),
            Some("")
        );
        let all = PubsubRequest::Items {
            node: "n".into(),
            max: None,
        }
        .to_element()
        .expect("builds");
        let items = all.get_child("items", NS_PUBSUB).expect("items");
        assert_eq!(items.attr("max_items"), None, "no limit asked for");

        let paged = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/>\
             <set xmlns='http://jabber.org/protocol/rsm'><count>10</count>\
             <first index='6'>t6</first><last>t9</last></set></pubsub>",
        );
        let rsm = parse_rsm(&paged).expect("a result set");
        assert_eq!(rsm.first.as_deref(), Some("t6"));
        assert_eq!((rsm.first_index, rsm.count), (Some(6), Some(10)));
        assert!(rsm.more_before(4, 4));
        let start = RsmResult {
            first: Some("t0".into()),
            first_index: Some(0),
            count: None,
        };
        assert!(!start.more_before(4, 4), "index 0 is the oldest");
        let unindexed = RsmResult {
            first: Some("t".into()),
            ..RsmResult::default()
        };
        assert!(unindexed.more_before(4, 4) && !unindexed.more_before(3, 4));
        assert!(
            !RsmResult::default().more_before(4, 4),
            "an empty page ends it"
        );
        let unpaged =
            parse("<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/></pubsub>");
        assert_eq!(parse_rsm(&unpaged), None, "no RSM: every item was sent");
    }

    #[test]
    fn the_item_cap_is_read_from_the_configuration_form() {
        let form = |field: &str| {
            parse(&format!(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'>\
                 <x xmlns='jabber:x:data' type='form'>{field}</x></configure></pubsub>"
            ))
        };
        let prosody = form(
            "<field var='pubsub#max_items' type='text-single'>\
             <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='pubsub:integer-or-max'>\
             <range min='1' max='256'/></validate><value>max</value></field>",
        );
        assert_eq!(parse_item_cap(&prosody), Some(256));
        let ejabberd = form("<field var='pubsub#max_items'><value>max</value></field>");
        assert_eq!(parse_item_cap(&ejabberd), None, "no declared bound");
        let number = form("<field var='pubsub#max_items'><value>20</value></field>");
        assert_eq!(parse_item_cap(&number), Some(20));
        let request = PubsubRequest::GetConfig { node: "n".into() };
        assert!(request.is_get());
        let e = request.to_element().expect("builds");
        assert_eq!(
            e.get_child("configure", NS_OWNER)
                .and_then(|c| c.attr("node")),
            Some("n")
        );
    }

    #[test]
    fn items_results_give_id_and_payload() {
        let r = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'>\
             <item id='1'><entry xmlns='http://www.w3.org/2005/Atom'/></item><item id='2'/>\
             </items></pubsub>",
        );
        let items = parse_items(&r);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0, "1");
    }

    #[test]
    fn text_round_trip_keeps_carriage_returns_and_markup() {
        let text = "<entry xmlns=\"http://www.w3.org/2005/Atom\"><content type=\"text/x-dokuwiki\">a&#13;\nb &amp; &lt;c&gt; ]]&gt;</content></entry>";
        let e = from_text(text).expect("parses");
        let content = e
            .get_child("content", "http://www.w3.org/2005/Atom")
            .expect("content")
            .text();
        assert_eq!(content, "a\r\nb & <c> ]]>");
        let again = from_text(&to_text(&e).expect("writes")).expect("parses again");
        assert_eq!(again, e);
        assert!(from_text("<entry").is_err());
    }
}
