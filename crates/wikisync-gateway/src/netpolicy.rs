//! Which networks the gateway may call back: `--callback-allow` and `--callback-deny`.
//!
//! Every verification of intent, delivery and WebSub denial is an HTTP request to a URL a
//! client chose, so a gateway reachable from outside could be made to call addresses only it
//! can reach (server-side request forgery: its own loopback, a private network, a cloud
//! metadata service at 169.254.169.254). A [`CallbackPolicy`] says which addresses callbacks may
//! use: none in a denied network, and, when networks are allowed explicitly, only addresses in
//! one of them. By default everything is allowed (wikis often sit on private networks beside
//! the gateway); an administrator of a public gateway denies what it must not reach (see
//! `docs/security.md`).
//!
//! The policy is enforced where connections are made, on the addresses actually connected to:
//! [`PolicyConnector`] refuses an IP literal outside the policy, and its resolver
//! ([`PolicyResolver`]) drops the resolved addresses outside it, so a host name that resolves
//! (or later re-resolves) into a denied network is not called either.
//!
//! ```
//! use wikisync_gateway::netpolicy::{CallbackPolicy, Cidr};
//!
//! let policy = CallbackPolicy {
//!     allow: vec![],
//!     deny: vec!["127.0.0.0/8".parse().unwrap(), "169.254.0.0/16".parse().unwrap()],
//! };
//! assert!(!policy.permits("127.0.0.1".parse().unwrap()));
//! assert!(!policy.permits("::ffff:169.254.169.254".parse().unwrap()));
//! assert!(policy.permits("192.0.2.7".parse().unwrap()));
//! assert_eq!("10.1.2.3/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8");
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`; a bare address is a
/// network of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Why a network could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a network: give an address and a prefix length, such as 10.0.0.0/8 or fd00::/8"
)]
pub struct CidrError(String);

impl Cidr {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.prefix);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_v6(self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// `ip`, with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a client is counted under by the per-address limits: itself, or its /64 for
/// IPv6 (one host usually holds a whole /64).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(text.to_owned());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let net = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        let net = match net {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_v4(prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_v6(prefix)).into()),
        };
        Ok(Self { net, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The networks callbacks may and may not use (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// When not empty, callbacks may only use addresses in one of these networks.
    pub allow: Vec<Cidr>,
    /// Callbacks may never use an address in one of these networks (deny wins over allow).
    pub deny: Vec<Cidr>,
}

impl CallbackPolicy {
    /// Whether a callback may use `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !self.deny.iter().any(|n| n.contains(ip))
            && (self.allow.is_empty() || self.allow.iter().any(|n| n.contains(ip)))
    }

    /// Whether some address of the host of `callback` may be called: an IP literal is checked
    /// as it is, a name is resolved; `false`: the callback must be refused. A name that does
    /// not resolve passes here (the call itself then fails like any unreachable callback).
    /// With no networks listed, nothing is resolved.
    pub async fn permits_callback(&self, callback: &str) -> bool {
        if self.allow.is_empty() && self.deny.is_empty() {
            return true;
        }
        let Some(host) = callback.parse::<Uri>().ok().and_then(|u| {
            let host = u.host()?.trim_start_matches('[').trim_end_matches(']');
            Some(host.to_owned())
        }) else {
            return true;
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.permits(ip);
        }
        match tokio::net::lookup_host((host.as_str(), 0)).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                addrs.is_empty() || addrs.iter().any(|a| self.permits(a.ip()))
            }
            Err(_) => true,
        }
    }
}

fn not_permitted(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "{what} is in a network callbacks may not use (--callback-allow / --callback-deny)"
        ),
    )
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Resolves callback host names, keeping only the addresses the policy permits (none left: an
/// error).
#[derive(Clone, Debug)]
pub struct PolicyResolver {
    policy: Arc<CallbackPolicy>,
}

impl tower::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() && !found.is_empty() {
                return Err(not_permitted(&format!(
                    "every address of {}",
                    name.as_str()
                )));
            }
            Ok(permitted.into_iter())
        })
    }
}

/// The TCP connector of the callback client: an [`HttpConnector`] resolving through
/// [`PolicyResolver`], refusing IP literals outside the policy.
#[derive(Clone, Debug)]
pub struct PolicyConnector {
    inner: HttpConnector<PolicyResolver>,
    policy: Arc<CallbackPolicy>,
}

impl PolicyConnector {
    /// A connector enforcing `policy`; `configure` sets up the inner [`HttpConnector`].
    pub fn new(
        policy: Arc<CallbackPolicy>,
        configure: impl FnOnce(&mut HttpConnector<PolicyResolver>),
    ) -> Self {
        let mut inner = HttpConnector::new_with_resolver(PolicyResolver {
            policy: policy.clone(),
        });
        configure(&mut inner);
        Self { inner, policy }
    }
}

impl tower::Service<Uri> for PolicyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let literal = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(ip) = literal
            && !self.policy.permits(ip)
        {
            return Box::pin(std::future::ready(Err(
                not_permitted(&ip.to_string()).into()
            )));
        }
        let connecting = self.inner.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().expect("a network")
    }

    #[test]
    fn networks_parse_and_contain() {
        assert!(cidr("10.0.0.0/8").contains("10.255.0.1".parse().expect("ip")));
        assert!(!cidr("10.0.0.0/8").contains("11.0.0.1".parse().expect("ip")));
        assert!(cidr("0.0.0.0/0").contains("203.0.113.9".parse().expect("ip")));
        assert!(!cidr("0.0.0.0/0").contains("::1".parse().expect("ip")));
        assert!(cidr("::/0").contains("::1".parse().expect("ip")));
        assert!(cidr("fe80::/10").contains("fe80::1".parse().expect("ip")));
        assert!(cidr("127.0.0.1").contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert_eq!(cidr("::ffff:10.0.0.0/8").to_string(), "10.0.0.0/8");
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "example.org/8",
            "10.0.0.0/x",
            "/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn deny_wins_and_allow_restricts() {
        let policy = CallbackPolicy {
            allow: vec![cidr("10.0.0.0/8")],
            deny: vec![cidr("10.0.0.0/24")],
        };
        assert!(policy.permits("10.1.0.1".parse().expect("ip")));
        assert!(!policy.permits("10.0.0.1".parse().expect("ip")));
        assert!(!policy.permits("192.0.2.1".parse().expect("ip")));
        assert!(CallbackPolicy::default().permits("127.0.0.1".parse().expect("ip")));
    }
}
