//! Where a node is followed: a node URI alone, served by the gateway the namespace already
//! uses, or **another gateway's feed URL** `http(s)://<host>[:<port>][/<prefix>]/items?uri=<node
//! URI>`, which says both the gateway (its base URL, under which `/subscribe`, `/items`,
//! `/publish` … are) and the node. A node URI does not say which gateway's HTTP API serves it,
//! so a namespace whose source moves to a node on a second gateway redirects its mirrors to that
//! gateway's feed URL, and each mirror keeps the gateway with the namespace's rule.
//!
//! ```
//! use wikisync_core::node::{NodeRef, gateway_url};
//!
//! let there = NodeRef::parse("http://GW2.example:8080/wiki/items?uri=xmpp%3Aps.b%3F%3Bnode%3Ddoc")?;
//! assert_eq!(there.gateway(), Some("http://gw2.example:8080/wiki"));
//! assert_eq!(there.node().to_string(), "xmpp:ps.b?;node=doc");
//! assert_eq!(there.to_string(), "http://gw2.example:8080/wiki/items?uri=xmpp%3Aps.b%3F%3Bnode%3Ddoc");
//!
//! // a node URI alone is served by the gateway already in use
//! let here = NodeRef::parse("xmpp:ps.a?;node=doc")?;
//! assert_eq!(here.gateway(), None);
//!
//! assert_eq!(gateway_url("https://gw.example/")?, "https://gw.example");
//! # Ok::<(), wikisync_core::node::UriError>(())
//! ```

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{MAX_URI_LEN, NodeUri, UriError, decode};

/// Characters of a node URI percent-encoded as the `uri` parameter of a feed URL: all but
/// RFC 3986's unreserved ones.
const PARAM_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path of a gateway's feed, after the gateway's base URL.
const FEED_PATH: &str = "/items";

/// A node to follow, and the gateway serving it when the reference said so.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    gateway: Option<String>,
    node: NodeUri,
}

impl NodeRef {
    /// Parses a node URI (`xmpp:…`, any spelling [`NodeUri::parse`] accepts) or a gateway's
    /// feed URL (`http(s)://<host>[:<port>][/<prefix>]/items?uri=<node URI>`; other query
    /// parameters such as `max_items` are allowed and left out of the canonical form).
    pub fn parse(input: &str) -> Result<NodeRef, UriError> {
        if input.len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        if !is_http(input) {
            return Ok(NodeRef {
                gateway: None,
                node: NodeUri::parse(input)?,
            });
        }
        let url = HttpUrl::parse(input)?;
        let Some(prefix) = url.path.strip_suffix(FEED_PATH) else {
            return Err(UriError::FeedPath);
        };
        let mut nodes = url.query.unwrap_or_default().split('&').filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key).ok()? == "uri").then_some(value)
        });
        let (Some(node), None) = (nodes.next(), nodes.next()) else {
            return Err(UriError::FeedNode);
        };
        Ok(NodeRef {
            gateway: Some(url.base(prefix)),
            node: NodeUri::parse(&form_decode(node)?)?,
        })
    }

    /// `node` on `gateway` (its base URL; `None`: the gateway already in use), both checked
    /// and put in their canonical form.
    pub fn at(gateway: Option<&str>, node: &str) -> Result<NodeRef, UriError> {
        Ok(NodeRef {
            gateway: gateway.map(gateway_url).transpose()?,
            node: NodeUri::parse(node)?,
        })
    }

    /// The base URL of the gateway serving the node, when the reference named one.
    pub fn gateway(&self) -> Option<&str> {
        self.gateway.as_deref()
    }

    /// The node.
    pub fn node(&self) -> &NodeUri {
        &self.node
    }
}

impl fmt::Display for NodeRef {
    /// The canonical form: the node URI alone, or the gateway's feed URL
    /// `<gateway>/items?uri=<node URI, percent-encoded>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.gateway {
            None => write!(f, "{}", self.node),
            Some(gateway) => write!(
                f,
                "{gateway}{FEED_PATH}?uri={}",
                utf8_percent_encode(&self.node.to_string(), PARAM_ENCODE)
            ),
        }
    }
}

/// A gateway's base URL in its canonical form: `http://` or `https://` and the host in lower
/// case, the port and path prefix as given, without a trailing `/`. Refused: another scheme,
/// a user name or password, a query, a fragment, a bad host or port.
pub fn gateway_url(input: &str) -> Result<String, UriError> {
    if input.len() > MAX_URI_LEN {
        return Err(UriError::TooLong);
    }
    if !is_http(input) {
        return Err(UriError::NotGateway);
    }
    let url = HttpUrl::parse(input)?;
    if url.query.is_some() {
        return Err(UriError::NotGateway);
    }
    Ok(url.base(&url.path))
}

fn is_http(input: &str) -> bool {
    input.split_once(':').is_some_and(|(scheme, _)| {
        ["http", "https"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
    })
}

/// An `http(s)://` URL split into the parts a gateway URL has.
struct HttpUrl<'a> {
    scheme: &'static str,
    /// Host (lower case) and port, as written in the URL.
    authority: String,
    path: String,
    query: Option<&'a str>,
}

impl<'a> HttpUrl<'a> {
    fn parse(input: &'a str) -> Result<HttpUrl<'a>, UriError> {
        let (scheme, rest) = input.split_once("://").ok_or(UriError::NotGateway)?;
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            "https"
        } else if scheme.eq_ignore_ascii_case("http") {
            "http"
        } else {
            return Err(UriError::NotGateway);
        };
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let (hier, query) = match rest.split_once('?') {
            Some((hier, query)) => (hier, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = hier.split_at(hier.find('/').unwrap_or(hier.len()));
        let bad_path = |c: char| c.is_control() || c.is_whitespace() || "\"<>\\^`{|}".contains(c);
        if path.contains(bad_path) || query.is_some_and(|q| q.contains(bad_path)) {
            return Err(UriError::NotGateway);
        }
        Ok(HttpUrl {
            scheme,
            authority: check_authority(authority)?,
            path: path.to_owned(),
            query,
        })
    }

    /// The base URL for a path prefix (its trailing `/`s left out).
    fn base(&self, prefix: &str) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.authority,
            prefix.trim_end_matches('/')
        )
    }
}

/// `host[:port]` with the host in lower case; an IPv6 literal in brackets; no user info.
fn check_authority(authority: &str) -> Result<String, UriError> {
    let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
        let (inside, after) = literal.split_once(']').ok_or(UriError::NotGateway)?;
        let ok = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c));
        if !ok {
            return Err(UriError::NotGateway);
        }
        match after {
            "" => (&authority[..inside.len() + 2], None),
            _ => (
                &authority[..inside.len() + 2],
                Some(after.strip_prefix(':').ok_or(UriError::NotGateway)?),
            ),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !ok {
            return Err(UriError::NotGateway);
        }
        (host, port)
    };
    if let Some(port) = port {
        let ok = (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(UriError::NotGateway);
        }
    }
    let mut out = host.to_ascii_lowercase();
    if let Some(port) = port {
        out.push(':');
        out.push_str(port);
    }
    Ok(out)
}

/// A query parameter's key or value, decoded as forms are (`+` is a space), as the gateway
/// reads it.
fn form_decode(s: &str) -> Result<String, UriError> {
    decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(input: &str) -> (Option<String>, String) {
        let r = NodeRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (r.gateway().map(str::to_owned), r.node().to_string())
    }

    #[test]
    fn feed_urls_name_their_gateway_and_node() {
        assert_eq!(
            target("http://127.0.0.1:8081/items?uri=xmpp%3Apubsub.b%3F%3Bnode%3Dgeneric%2F1"),
            (
                Some("http://127.0.0.1:8081".to_owned()),
                "xmpp:pubsub.b?;node=generic/1".to_owned()
            )
        );
        // unencoded, with other parameters, a prefix with a trailing slash before /items
        assert_eq!(
            target("HTTPS://Gw.Example/pubsub//items?max_items=5&uri=xmpp:ps.b?;node=x&after=c"),
            (
                Some("https://gw.example/pubsub".to_owned()),
                "xmpp:ps.b?;node=x".to_owned()
            )
        );
        assert_eq!(
            target("http://[::1]:9/items?uri=xmpp:ps?;node=a+b"),
            (
                Some("http://[::1]:9".to_owned()),
                "xmpp:ps?;node=a%20b".to_owned()
            )
        );
        assert_eq!(
            target("xmpp:ps?node=x"),
            (None, "xmpp:ps?;node=x".to_owned())
        );
    }

    #[test]
    fn canonical_feed_urls_parse_back() {
        for input in [
            "http://gw.example:1/p/items?uri=xmpp%3Aps%3F%3Bnode%3Da%253Bb",
            "xmpp:ps?;node=x",
            "https://gw/items?uri=xmpp%3Aps",
        ] {
            let r = NodeRef::parse(input).expect(input);
            assert_eq!(r.to_string(), input);
            assert_eq!(NodeRef::parse(&r.to_string()), Ok(r));
        }
    }

    #[test]
    fn bad_gateway_and_feed_urls() {
        for (input, err) in [
            ("ftp://gw/items?uri=xmpp:ps?;node=x", UriError::NotXmpp),
            ("http:gw/items?uri=xmpp:ps?;node=x", UriError::NotGateway),
            (
                "http://user:pw@gw/items?uri=xmpp:ps?;node=x",
                UriError::NotGateway,
            ),
            ("http:///items?uri=xmpp:ps?;node=x", UriError::NotGateway),
            (
                "http://gw:0/items?uri=xmpp:ps?;node=x",
                UriError::NotGateway,
            ),
            (
                "http://gw:99999/items?uri=xmpp:ps?;node=x",
                UriError::NotGateway,
            ),
            ("http://gw:/items?uri=xmpp:ps?;node=x", UriError::NotGateway),
            ("http://g w/items?uri=xmpp:ps?;node=x", UriError::NotGateway),
            (
                "http://[zz]/items?uri=xmpp:ps?;node=x",
                UriError::NotGateway,
            ),
            (
                "http://gw/items x?uri=xmpp:ps?;node=x",
                UriError::NotGateway,
            ),
            ("http://gw/feed?uri=xmpp:ps?;node=x", UriError::FeedPath),
            ("http://gw/items/?uri=xmpp:ps?;node=x", UriError::FeedPath),
            ("http://gw/items", UriError::FeedNode),
            ("http://gw/items?node=x", UriError::FeedNode),
            (
                "http://gw/items?uri=xmpp:a?;node=x&uri=xmpp:a?;node=y",
                UriError::FeedNode,
            ),
            (
                "http://gw/items?uri=xmpp:ps?;node=x#top",
                UriError::Fragment,
            ),
            ("http://gw/items?uri=http%3A%2F%2Fgw", UriError::NotXmpp),
            (
                "http://gw/items?uri=xmpp%3A%40%40ps",
                UriError::InvalidService,
            ),
            ("http://gw/items?uri=xmpp:ps?;node=%zz", UriError::Encoding),
        ] {
            assert_eq!(NodeRef::parse(input), Err(err), "{input}");
        }
        let long = format!(
            "http://gw/items?uri=xmpp:ps?;node={}",
            "a".repeat(MAX_URI_LEN)
        );
        assert_eq!(NodeRef::parse(&long), Err(UriError::TooLong));
    }

    #[test]
    fn gateway_urls() {
        assert_eq!(
            gateway_url("http://GW:8080/"),
            Ok("http://gw:8080".to_owned())
        );
        assert_eq!(
            gateway_url("https://gw/a/b/"),
            Ok("https://gw/a/b".to_owned())
        );
        assert_eq!(gateway_url("xmpp:gw"), Err(UriError::NotGateway));
        assert_eq!(gateway_url("http://gw/?x=1"), Err(UriError::NotGateway));
        assert_eq!(gateway_url("gw.example"), Err(UriError::NotGateway));
        assert_eq!(
            NodeRef::at(Some("http://GW/"), "xmpp:ps?node=n").map(|r| r.to_string()),
            Ok("http://gw/items?uri=xmpp%3Aps%3F%3Bnode%3Dn".to_owned())
        );
        assert_eq!(
            NodeRef::at(None, "xmpp:ps?node=n").map(|r| r.to_string()),
            Ok("xmpp:ps?;node=n".to_owned())
        );
    }
}
