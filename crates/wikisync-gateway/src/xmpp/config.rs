//! The settings of the XMPP mode: [`XmppConfig`], from flags ([`XmppArgs`]) and the TOML
//! file's `[xmpp]` table ([`XmppFileConfig`]).

use std::time::Duration;

use serde::Deserialize;

/// Settings of the XMPP mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmppConfig {
    /// The component's JID, e.g. `gateway.example.org`.
    pub component: String,
    /// The server's component port, `host:port`.
    pub server: String,
    /// The XEP-0114 shared secret.
    pub secret: String,
    /// Keepalive ping interval.
    pub ping_interval: Duration,
    /// Time limit of one request to the server.
    pub iq_timeout: Duration,
    /// Longest delay between reconnect attempts.
    pub reconnect_max: Duration,
}

/// XMPP flags of `wikisync-gateway` (flattened into [`crate::config::Args`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct XmppArgs {
    /// XMPP mode: the component JID to connect as (e.g. gateway.example.org). Needs
    /// --xmpp-server and --xmpp-secret; --service names the pubsub service.
    #[arg(long, env = "WIKISYNC_GATEWAY_XMPP_COMPONENT", value_name = "JID")]
    pub xmpp_component: Option<String>,
    /// XMPP mode: the server's component port, HOST:PORT (e.g. 127.0.0.1:5347).
    #[arg(long, env = "WIKISYNC_GATEWAY_XMPP_SERVER", value_name = "HOST:PORT")]
    pub xmpp_server: Option<String>,
    /// XMPP mode: the component secret (prefer the environment variable or the TOML file).
    #[arg(long, env = "WIKISYNC_GATEWAY_XMPP_SECRET", value_name = "SECRET")]
    pub xmpp_secret: Option<String>,
}

/// The `[xmpp]` table of the TOML file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppFileConfig {
    component: Option<String>,
    server: Option<String>,
    secret: Option<String>,
    ping_interval_secs: Option<u64>,
    iq_timeout_ms: Option<u64>,
    reconnect_max_ms: Option<u64>,
}

/// Why the XMPP settings are not usable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmppConfigError {
    /// Some but not all of component, server and secret were given.
    #[error("XMPP mode needs all of component, server and secret; missing: {0}")]
    Incomplete(String),
    /// A value is out of range or malformed (the message names it).
    #[error("invalid XMPP setting: {0}")]
    Invalid(String),
}

impl XmppConfig {
    /// Merges flags over the file's `[xmpp]` table; `Ok(None)` when neither selects XMPP mode.
    pub fn merge(
        args: XmppArgs,
        file: Option<XmppFileConfig>,
    ) -> Result<Option<Self>, XmppConfigError> {
        let file = file.unwrap_or_default();
        let component = args.xmpp_component.or(file.component);
        let server = args.xmpp_server.or(file.server);
        let secret = args.xmpp_secret.or(file.secret);
        if component.is_none() && server.is_none() && secret.is_none() {
            return Ok(None);
        }
        let missing: Vec<&str> = [
            ("component", component.is_none()),
            ("server", server.is_none()),
            ("secret", secret.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        let (Some(component), Some(server), Some(secret)) = (component, server, secret) else {
            return Err(XmppConfigError::Incomplete(missing.join(", ")));
        };
        let config = Self {
            component,
            server,
            secret,
            ping_interval: Duration::from_secs(file.ping_interval_secs.unwrap_or(30)),
            iq_timeout: Duration::from_millis(file.iq_timeout_ms.unwrap_or(10_000)),
            reconnect_max: Duration::from_millis(file.reconnect_max_ms.unwrap_or(30_000)),
        };
        config.validate()?;
        Ok(Some(config))
    }

    fn validate(&self) -> Result<(), XmppConfigError> {
        let invalid = |m: &str| Err(XmppConfigError::Invalid(m.to_owned()));
        if self
            .component
            .parse::<tokio_xmpp::jid::BareJid>()
            .map_or(true, |j| j.node().is_some())
        {
            return invalid("component must be a domain JID such as gateway.example.org");
        }
        match self.server.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => return invalid("server must be HOST:PORT, e.g. 127.0.0.1:5347"),
        }
        if self.secret.is_empty() {
            return invalid("secret must not be empty");
        }
        if self.ping_interval.is_zero() || self.iq_timeout.is_zero() {
            return invalid("ping_interval_secs and iq_timeout_ms must be at least 1");
        }
        if self.reconnect_max < Duration::from_millis(100) {
            return invalid("reconnect_max_ms must be at least 100");
        }
        Ok(())
    }

    /// The connection settings.
    pub fn connection(&self) -> super::conn::ConnectionConfig {
        super::conn::ConnectionConfig {
            component: self.component.clone(),
            server: self.server.clone(),
            secret: self.secret.clone(),
            ping_interval: self.ping_interval,
            iq_timeout: self.iq_timeout,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: self.reconnect_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: Option<&str>, s: Option<&str>, k: Option<&str>) -> XmppArgs {
        XmppArgs {
            xmpp_component: c.map(str::to_owned),
            xmpp_server: s.map(str::to_owned),
            xmpp_secret: k.map(str::to_owned),
        }
    }

    #[test]
    fn nothing_given_means_embedded_mode() {
        assert_eq!(XmppConfig::merge(XmppArgs::default(), None), Ok(None));
    }

    #[test]
    fn flags_select_xmpp_mode_and_override_the_file() {
        let file: XmppFileConfig = toml::from_str(
            "component = \"other.localhost\"\nserver = \"127.0.0.1:1\"\nsecret = \"f\"\nping_interval_secs = 5\n",
        )
        .expect("valid table");
        let config = XmppConfig::merge(
            args(Some("gw.localhost"), Some("127.0.0.1:5347"), None),
            Some(file),
        )
        .expect("valid")
        .expect("xmpp mode");
        assert_eq!(config.component, "gw.localhost");
        assert_eq!(config.server, "127.0.0.1:5347");
        assert_eq!(config.secret, "f");
        assert_eq!(config.ping_interval, Duration::from_secs(5));
    }

    #[test]
    fn incomplete_or_malformed_settings_are_errors() {
        assert_eq!(
            XmppConfig::merge(args(Some("gw.localhost"), None, None), None),
            Err(XmppConfigError::Incomplete("server, secret".into()))
        );
        assert!(matches!(
            XmppConfig::merge(args(Some("user@gw"), Some("h:1"), Some("s")), None),
            Err(XmppConfigError::Invalid(_))
        ));
        assert!(matches!(
            XmppConfig::merge(args(Some("gw"), Some("nohost"), Some("s")), None),
            Err(XmppConfigError::Invalid(_))
        ));
        assert!(toml::from_str::<XmppFileConfig>("sekret = \"x\"").is_err());
    }
}
