//! XMPP node URIs: parsing every variant old clients send, emitting one canonical form, and
//! telling whether two spellings name the same node ([`same_node`]).
//!
//! A pubsub node is named by an XMPP URI (RFC 5122) made of the service JID and the node id.
//! Idavoll emits the unusual form `xmpp:<service>?;node=<id>` (RFC 5122 would write
//! `?pubsub;node=`), and clients stored whatever they once received. [`NodeUri::parse`] accepts:
//!
//! - `xmpp:svc?;node=id` (Idavoll's own form), `xmpp:svc?node=id`, `xmpp:svc?pubsub;node=id`,
//!   `xmpp:svc?pubsub;action=subscribe;node=id` (any `action`, and other keys, are ignored),
//!   `xmpp:svc;?node=id` (a stray `;` before the query, seen in old wiki docs);
//! - `;` or `&` between parameters, and percent-encoding anywhere (decoded as UTF-8);
//! - no query, an empty query or an empty `node` value: the root collection (node id `""`).
//!
//! The service JID's domain and local part are lower-cased (they compare without case), so
//! `xmpp:PubSub.Example.org?;node=x` names the same node as `xmpp:pubsub.example.org?;node=x`;
//! node ids keep their case.
//!
//! It rejects: another scheme or none, an authority (`xmpp://…`), an empty or invalid service
//! JID, a query type other than empty or `pubsub`, `node` given twice, a fragment, and
//! percent-encoding that is broken or not UTF-8.
//!
//! **Canonical form** (what the gateway emits, decided here): Idavoll's
//! `xmpp:<service>?;node=<id>`, so URIs the gateway hands out are byte-identical to the ones
//! Idavoll handed out and already stored by clients. The node id is percent-encoded only where
//! it would break the URI (`%`, `;`, `&`, `=`, `#`, `?`, space, controls, non-ASCII); `/`, `:` and
//! `@` stay as they are. The root collection is `xmpp:<service>` without a query.
//!
//! ```
//! use wikisync_core::node::NodeUri;
//!
//! let uri = NodeUri::parse("xmpp:pubsub.example.org?pubsub;action=subscribe;node=wiki%2Fstart")
//!     .expect("a valid URI");
//! assert_eq!(uri.service(), "pubsub.example.org");
//! assert_eq!(uri.node(), "wiki/start");
//! assert_eq!(uri.to_string(), "xmpp:pubsub.example.org?;node=wiki/start");
//!
//! // Hosts compare the node a callback names with the one they subscribed to:
//! use wikisync_core::node::same_node;
//! assert!(same_node("xmpp:PubSub.Example.org?node=wiki%2Fstart", "xmpp:pubsub.example.org?;node=wiki/start"));
//! assert!(!same_node("xmpp:pubsub.example.org?;node=Wiki/start", "xmpp:pubsub.example.org?;node=wiki/start"));
//! ```

mod target;

use std::fmt;

pub use target::{NodeRef, gateway_url};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Characters of a node id that are percent-encoded in the canonical URI.
const NODE_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b';')
    .add(b'&')
    .add(b'=')
    .add(b'#')
    .add(b'?')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Characters of a service JID that are percent-encoded in the canonical URI: the same as for
/// node ids, so a resource keeps its literal `/` as RFC 5122 writes it (`xmpp:svc@host/res`).
const JID_ENCODE: &AsciiSet = NODE_ENCODE;

/// Longest URI the parser looks at, in bytes (XMPP JIDs are at most 3 × 1023 bytes).
pub const MAX_URI_LEN: usize = 8192;

/// A parsed XMPP node URI: the pubsub service JID and the node id (`""` = root collection).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeUri {
    service: String,
    node: String,
}

/// Why a string is not an XMPP node URI.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The string does not start with `xmpp:` (or has no scheme at all).
    #[error("not an xmpp: URI")]
    NotXmpp,
    /// The URI has an authority (`xmpp://…`), which names an account, not a service.
    #[error("an authority (xmpp://...) is not supported; use xmpp:<service>?;node=<id>")]
    Authority,
    /// Nothing between `xmpp:` and the query: the service JID is missing.
    #[error("the service JID is missing")]
    EmptyService,
    /// The service part is not a valid JID (for example `@@pubsub.example.org`).
    #[error("the service JID is not valid")]
    InvalidService,
    /// The query starts with a type other than empty or `pubsub` (e.g. `?message;…`).
    #[error("the query type must be empty or 'pubsub'")]
    QueryType,
    /// The `node` parameter appears more than once.
    #[error("the node parameter is given more than once")]
    DuplicateNode,
    /// The URI has a fragment (`#…`).
    #[error("a fragment (#...) is not allowed")]
    Fragment,
    /// Percent-encoding that does not decode to UTF-8.
    #[error("percent-encoding does not decode to UTF-8")]
    Encoding,
    /// The URI is longer than [`MAX_URI_LEN`] bytes.
    #[error("the URI is too long")]
    TooLong,
    /// Not the URL of a gateway: `http://` or `https://`, a host, an optional port and path,
    /// no user name or password (see [`gateway_url`]).
    #[error("not a gateway URL (http(s)://<host>[:<port>][/<prefix>], without user or password)")]
    NotGateway,
    /// A gateway's feed URL whose path does not end in `/items`.
    #[error(
        "a gateway's feed URL ends in /items (http(s)://<host>[:<port>][/<prefix>]/items?uri=<node URI>)"
    )]
    FeedPath,
    /// A gateway's feed URL without its `uri` parameter, or with two.
    #[error("a gateway's feed URL names its node once, as ?uri=<node URI>")]
    FeedNode,
}

impl UriError {
    /// A stable snake_case code for the error (used by the conformance vectors
    /// `tests/vectors/node_uris.json`): `not_xmpp`, `authority`, `empty_service`,
    /// `invalid_service`, `query_type`, `duplicate_node`, `fragment`, `encoding`, `too_long`;
    /// for gateway and feed URLs ([`NodeRef`], `tests/vectors/follow_targets.json`)
    /// `not_gateway`, `feed_path`, `feed_node`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotXmpp => "not_xmpp",
            Self::Authority => "authority",
            Self::EmptyService => "empty_service",
            Self::InvalidService => "invalid_service",
            Self::QueryType => "query_type",
            Self::DuplicateNode => "duplicate_node",
            Self::Fragment => "fragment",
            Self::Encoding => "encoding",
            Self::TooLong => "too_long",
            Self::NotGateway => "not_gateway",
            Self::FeedPath => "feed_path",
            Self::FeedNode => "feed_node",
        }
    }
}

impl NodeUri {
    /// A node URI from its parts; `node` may be `""` for the root collection.
    ///
    /// The service is not validated here: use [`NodeUri::parse`] for input from outside.
    pub fn new(service: impl Into<String>, node: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            node: node.into(),
        }
    }

    /// Parses any of the accepted variants (see the module documentation).
    pub fn parse(input: &str) -> Result<Self, UriError> {
        if input.len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        let rest = match input.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("xmpp") => rest,
            _ => return Err(UriError::NotXmpp),
        };
        if rest.starts_with("//") {
            return Err(UriError::Authority);
        }
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let path = path.strip_suffix(';').unwrap_or(path);
        if path.is_empty() {
            return Err(UriError::EmptyService);
        }
        let service = case_fold_jid(&decode(path)?);
        validate_jid(&service)?;
        let node = match query {
            Some(query) => parse_query(query)?,
            None => String::new(),
        };
        Ok(Self { service, node })
    }

    /// The pubsub service JID.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The node id; `""` is the root collection.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether this names the root collection (every node of the service).
    pub fn is_root(&self) -> bool {
        self.node.is_empty()
    }
}

/// Whether `a` and `b` name the same node: both parse and have the same service (compared
/// without case) and node id (compared exactly). A string that does not parse names no node,
/// so it is never the same as anything.
pub fn same_node(a: &str, b: &str) -> bool {
    matches!((NodeUri::parse(a), NodeUri::parse(b)), (Ok(x), Ok(y)) if x == y)
}

impl fmt::Display for NodeUri {
    /// The canonical form: `xmpp:<service>?;node=<id>`, or `xmpp:<service>` for the root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xmpp:{}", utf8_percent_encode(&self.service, JID_ENCODE))?;
        if !self.node.is_empty() {
            write!(f, "?;node={}", utf8_percent_encode(&self.node, NODE_ENCODE))?;
        }
        Ok(())
    }
}

fn decode(s: &str) -> Result<String, UriError> {
    // A '%' not followed by two hex digits is passed through by percent_decode; reject it.
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(UriError::Encoding);
            }
        }
    }
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| UriError::Encoding)
}

fn parse_query(query: &str) -> Result<String, UriError> {
    let mut node: Option<String> = None;
    for (index, part) in query.split([';', '&']).enumerate() {
        match part.split_once('=') {
            None if index == 0 && !(part.is_empty() || part == "pubsub") => {
                return Err(UriError::QueryType);
            }
            // The query type, or a bare word after it that carries no value (ignored like parse_qs).
            None => {}
            Some((key, value)) if decode(key)? == "node" => {
                if node.is_some() {
                    return Err(UriError::DuplicateNode);
                }
                node = Some(decode(value)?);
            }
            Some(_) => {}
        }
    }
    Ok(node.unwrap_or_default())
}

/// A light JID check: `[local@]domain[/resource]`, no empty parts, no forbidden characters.
/// A JID with its domain and local part lower-cased (both compare without case, RFC 7622),
/// the resource kept as it is: one service, however a client spells it, is one key.
fn case_fold_jid(jid: &str) -> String {
    let (bare, resource) = match jid.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (jid, None),
    };
    let mut out = bare.to_lowercase();
    if let Some(resource) = resource {
        out.push('/');
        out.push_str(resource);
    }
    out
}

fn validate_jid(jid: &str) -> Result<(), UriError> {
    let (bare, resource) = match jid.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (jid, None),
    };
    let (local, domain) = match bare.split_once('@') {
        Some((local, domain)) => (Some(local), domain),
        None => (None, bare),
    };
    let forbidden = |c: char| c.is_control() || c.is_whitespace();
    let domain_ok = !domain.is_empty()
        && domain.len() <= 1023
        && !domain.contains(|c: char| forbidden(c) || "@/\"&'<>:".contains(c));
    let local_ok = local.is_none_or(|l| {
        !l.is_empty()
            && l.len() <= 1023
            && !l.contains(|c: char| forbidden(c) || "@/\"&'<>:".contains(c))
    });
    let resource_ok =
        resource.is_none_or(|r| !r.is_empty() && r.len() <= 1023 && !r.contains(char::is_control));
    if domain_ok && local_ok && resource_ok {
        Ok(())
    } else {
        Err(UriError::InvalidService)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, String) {
        let uri = NodeUri::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (uri.service().to_owned(), uri.node().to_owned())
    }

    fn pair(service: &str, node: &str) -> (String, String) {
        (service.to_owned(), node.to_owned())
    }

    // Idavoll's GetServiceAndNodeTest, all eight cases.
    #[test]
    fn idavoll_basic() {
        assert_eq!(
            ok("xmpp:pubsub.example.org?;node=test"),
            pair("pubsub.example.org", "test")
        );
    }

    #[test]
    fn idavoll_scheme_empty() {
        assert_eq!(NodeUri::parse("pubsub.example.org"), Err(UriError::NotXmpp));
    }

    #[test]
    fn idavoll_scheme_not_xmpp() {
        assert_eq!(
            NodeUri::parse("mailto:test@example.org"),
            Err(UriError::NotXmpp)
        );
    }

    #[test]
    fn idavoll_authority_present() {
        assert_eq!(
            NodeUri::parse("xmpp://pubsub.example.org/"),
            Err(UriError::Authority)
        );
    }

    #[test]
    fn idavoll_query_empty() {
        assert_eq!(
            ok("xmpp:pubsub.example.org"),
            pair("pubsub.example.org", "")
        );
    }

    #[test]
    fn idavoll_jid_invalid() {
        assert_eq!(
            NodeUri::parse("xmpp:@@pubsub.example.org?;node=test"),
            Err(UriError::InvalidService)
        );
        assert_eq!(NodeUri::parse("xmpp:@@@@"), Err(UriError::InvalidService));
    }

    #[test]
    fn idavoll_path_empty() {
        assert_eq!(
            NodeUri::parse("xmpp:?node=test"),
            Err(UriError::EmptyService)
        );
    }

    #[test]
    fn idavoll_node_absent() {
        assert_eq!(
            ok("xmpp:pubsub.example.org?"),
            pair("pubsub.example.org", "")
        );
    }

    #[test]
    fn variants_old_clients_send() {
        let want = pair("pubsub.example.org", "wiki/page");
        for input in [
            "xmpp:pubsub.example.org?;node=wiki/page",
            "xmpp:pubsub.example.org?node=wiki/page",
            "xmpp:pubsub.example.org?pubsub;node=wiki/page",
            "xmpp:pubsub.example.org?pubsub;action=subscribe;node=wiki/page",
            "xmpp:pubsub.example.org?pubsub;node=wiki/page;action=retrieve",
            "xmpp:pubsub.example.org;?node=wiki/page",
            "xmpp:pubsub.example.org?node=wiki%2Fpage",
            "xmpp:pubsub.example.org?pubsub&node=wiki%2fpage",
            "XMPP:pubsub.example.org?%6Eode=wiki/page",
            "xmpp:pubsub%2Eexample.org?;node=wiki/page",
        ] {
            assert_eq!(ok(input), want, "{input}");
        }
    }

    #[test]
    fn unicode_and_reserved_characters_round_trip() {
        for node in [
            "wiki:Start Page",
            "a;b&c=d#e?f%g",
            "ünïcødé/页",
            "generic/0a1b",
        ] {
            let uri = NodeUri::new("pubsub.example.org", node);
            let text = uri.to_string();
            assert_eq!(NodeUri::parse(&text), Ok(uri.clone()), "{text}");
        }
        assert_eq!(
            NodeUri::new("svc", "a b;c").to_string(),
            "xmpp:svc?;node=a%20b%3Bc"
        );
    }

    #[test]
    fn canonical_form_matches_idavoll() {
        assert_eq!(
            NodeUri::new("pubsub.example.org", "test").to_string(),
            "xmpp:pubsub.example.org?;node=test"
        );
        assert_eq!(
            NodeUri::new("pubsub.example.org", "").to_string(),
            "xmpp:pubsub.example.org"
        );
    }

    #[test]
    fn malformed() {
        for (input, err) in [
            ("", UriError::NotXmpp),
            ("xmpp", UriError::NotXmpp),
            ("http://example.org/?node=x", UriError::NotXmpp),
            ("xmpp:", UriError::EmptyService),
            ("xmpp:;?node=x", UriError::EmptyService),
            ("xmpp:svc?message;node=x", UriError::QueryType),
            ("xmpp:svc?;node=a;node=b", UriError::DuplicateNode),
            ("xmpp:svc?;node=a#frag", UriError::Fragment),
            ("xmpp:svc?;node=%ff", UriError::Encoding),
            ("xmpp:svc?;node=%zz", UriError::Encoding),
            ("xmpp:svc?;node=%4", UriError::Encoding),
            ("xmpp:a b?;node=x", UriError::InvalidService),
            ("xmpp:user@?;node=x", UriError::InvalidService),
            ("xmpp:svc/?;node=x", UriError::InvalidService),
            ("xmpp:<svc>?;node=x", UriError::InvalidService),
        ] {
            assert_eq!(NodeUri::parse(input), Err(err), "{input:?}");
        }
        let long = format!("xmpp:svc?;node={}", "a".repeat(MAX_URI_LEN));
        assert_eq!(NodeUri::parse(&long), Err(UriError::TooLong));
    }

    #[test]
    fn jid_with_local_part_and_resource() {
        assert_eq!(
            ok("xmpp:pubsub@example.org/gw?;node=n"),
            pair("pubsub@example.org/gw", "n")
        );
    }
}
