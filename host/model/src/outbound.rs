//! Where Inlet may connect: the operator's allow-list of outgoing destinations
//! (`--allow-outbound`). Broker sources are checked against it when they are written and
//! again before they connect; any later outgoing connection (endpoint delivery) uses it too.
//!
//! A pattern is `host` (any port) or `host:port`; the host is a name, `*.domain` (any name
//! under the domain, not the domain itself), an IPv4 address, a bracketed IPv6 address, or
//! a network in CIDR notation (`10.0.0.0/8`, `[fd00::/8]:443`; an IPv6 network needs the
//! brackets only with a port). Names are matched as written (case and a trailing dot
//! aside), never resolved: a name that resolves to an allowed address is not allowed by
//! it, and a network allows only addresses written as addresses.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Invalid;

/// The flag and variable that set the allow-list, for messages that say how to allow a
/// destination.
pub const ALLOW_OUTBOUND_FLAG: &str = "--allow-outbound";
pub const ALLOW_OUTBOUND_ENV: &str = "INLET_ALLOW_OUTBOUND";

/// A host and port Inlet would connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Lower case, without brackets (IPv6) or a trailing dot.
    pub host: String,
    pub port: u16,
}

impl Destination {
    /// Where an `http://` or `https://` URL connects, parsed as the HTTP clients parse it
    /// (`http::Uri`). None for anything else, including a URL with user info (`a@b`), which
    /// reads as one host and connects to another.
    pub fn of_url(url: &str) -> Option<Self> {
        let uri: http::Uri = url.parse().ok()?;
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let default_port = match uri.scheme_str()? {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        // `http::Uri` reads a port it cannot parse (`:99999`) as none.
        let port = match authority.as_str().get(authority.host().len()..)? {
            "" => default_port,
            port => port.strip_prefix(':')?.parse().ok()?,
        };
        Some(Self {
            host: normalized(authority.host())?,
            port,
        })
    }

    /// A `host:port` (an IPv6 host in brackets), as Kafka's bootstrap servers are given.
    /// Only the characters of a host name or address: no `,` (which would add brokers),
    /// whitespace or `scheme://`.
    pub fn of_host_port(text: &str) -> Option<Self> {
        let (host, port) = text.rsplit_once(':')?;
        let port = port.parse().ok()?;
        Some(Self {
            host: normalized(host)?,
            port,
        })
    }
}

/// A host as compared: lower case, no trailing dot, IPv6 without brackets; None unless it
/// is a host name (letters, digits, `-`, `.`) or an IP address.
fn normalized(host: &str) -> Option<String> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string());
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.');
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(name_char)
        && host.split('.').all(|label| !label.is_empty());
    valid.then_some(host)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Exact(String),
    /// `*.domain`: names ending in `.domain` (kept with its leading dot).
    Under(String),
    /// `address/prefix`: the addresses in the network.
    Network(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    host: Host,
    /// None: any port.
    port: Option<u16>,
}

/// The destinations the operator allows beyond the public endpoints Inlet derives itself.
/// Empty by default: then only those are allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    patterns: Vec<Pattern>,
}

impl AllowList {
    /// Parses the patterns; an error names the one at fault.
    pub fn parse<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Result<Self, String> {
        let patterns = patterns
            .into_iter()
            .map(|p| {
                let p = p.as_ref().trim();
                pattern(p).ok_or_else(|| {
                    format!(
                        "{ALLOW_OUTBOUND_FLAG} {p:?}: expected host, host:port, *.domain, \
                         *.domain:port, address/prefix or address/prefix:port (IPv6 in \
                         brackets before a port)"
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    pub fn allows(&self, destination: &Destination) -> bool {
        self.patterns.iter().any(|p| {
            let host = match &p.host {
                Host::Exact(host) => *host == destination.host,
                Host::Under(domain) => destination.host.ends_with(domain.as_str()),
                Host::Network(network) => destination
                    .host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| network.contains(&ip)),
            };
            host && p.port.is_none_or(|port| port == destination.port)
        })
    }

    /// Refuses a destination outside the list, naming the field that gives it and how the
    /// operator allows it.
    pub fn check(&self, field: &str, destination: &Destination) -> Result<(), Invalid> {
        if self.allows(destination) {
            return Ok(());
        }
        let Destination { host, port } = destination;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        Err(Invalid::new(
            "outbound_not_allowed",
            format!(
                "{field}: Inlet may not connect to {host}:{port}; the operator allows \
                 destinations with {ALLOW_OUTBOUND_FLAG} (or {ALLOW_OUTBOUND_ENV})"
            ),
        ))
    }
}

fn pattern(text: &str) -> Option<Pattern> {
    // A port is there when the text ends in `:digits` outside IPv6 brackets.
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            (host, Some(port.parse().ok()?))
        }
        _ => (text, None),
    };
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = match host.strip_prefix("*.") {
        // Host bits are dropped: `10.1.2.3/8` is the network 10.0.0.0/8.
        None if unbracketed.contains('/') => {
            Host::Network(unbracketed.parse::<IpNet>().ok()?.trunc())
        }
        Some(domain) => Host::Under(format!(".{}", normalized(domain)?)),
        None if host.contains(':') && !host.starts_with('[') => {
            Host::Exact(host.parse::<IpAddr>().ok()?.to_string())
        }
        None => Host::Exact(normalized(host)?),
    };
    Some(Pattern { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(host: &str, port: u16) -> Destination {
        Destination {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn patterns_match_host_and_port_as_written() {
        let list = AllowList::parse([
            "kafka-1.internal:9092",
            "*.queue.example.com",
            "127.0.0.1",
            "[::1]:4566",
            "Upper.Example.",
        ])
        .unwrap();
        assert!(list.allows(&to("kafka-1.internal", 9092)));
        assert!(!list.allows(&to("kafka-1.internal", 9093)));
        assert!(!list.allows(&to("kafka-2.internal", 9092)));
        assert!(list.allows(&to("a.queue.example.com", 443)));
        assert!(list.allows(&to("b.a.queue.example.com", 80)));
        assert!(
            !list.allows(&to("queue.example.com", 443)),
            "the domain itself"
        );
        assert!(!list.allows(&to("evilqueue.example.com", 443)));
        assert!(list.allows(&to("127.0.0.1", 1)));
        assert!(!list.allows(&to("localhost", 1)), "names are not resolved");
        assert!(list.allows(&to("::1", 4566)));
        assert!(!list.allows(&to("::1", 4567)));
        assert!(list.allows(&to("upper.example", 1)));
        assert!(!AllowList::default().allows(&to("127.0.0.1", 80)));
    }

    #[test]
    fn networks_match_addresses_written_as_addresses() {
        let list = AllowList::parse([
            "10.0.0.0/8",
            "192.168.1.7/24:8080",
            "fd00::/8",
            "[fe80::/10]:443",
        ])
        .unwrap();
        assert!(list.allows(&to("10.0.0.1", 1)));
        assert!(list.allows(&to("10.255.255.255", 80)));
        assert!(!list.allows(&to("11.0.0.1", 80)));
        assert!(list.allows(&to("192.168.1.200", 8080)), "host bits dropped");
        assert!(!list.allows(&to("192.168.1.200", 8081)));
        assert!(!list.allows(&to("192.168.2.1", 8080)));
        assert!(list.allows(&to("fd12::1", 9)));
        assert!(!list.allows(&to("fe00::1", 9)));
        assert!(list.allows(&to("fe80::1", 443)));
        assert!(!list.allows(&to("fe80::1", 80)));
        assert!(
            !list.allows(&to("ten.internal", 80)),
            "names are not resolved"
        );
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in [
            "",
            "*",
            "a,b",
            "host:port",
            "http://a",
            "a b",
            "*.",
            "[::1]:x",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "*.10.0.0.0/8",
            "[fd00::/129]",
        ] {
            let error = AllowList::parse([bad]).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn urls_connect_where_http_clients_connect() {
        let of = Destination::of_url;
        assert_eq!(of("http://127.0.0.1:4566"), Some(to("127.0.0.1", 4566)));
        assert_eq!(
            of("https://SQS.example.com/1/q"),
            Some(to("sqs.example.com", 443))
        );
        assert_eq!(of("http://[::1]:8085"), Some(to("::1", 8085)));
        assert_eq!(of("http://example.com"), Some(to("example.com", 80)));
        for bad in [
            "http://allowed.example@169.254.169.254/",
            "ftp://example.com",
            "http://",
            "localhost:4566",
            "http://a b",
            "http://example.com:99999/",
            "http://example.com:/",
        ] {
            assert_eq!(of(bad), None, "{bad}");
        }
    }

    #[test]
    fn kafka_hosts_cannot_smuggle_more_brokers() {
        let of = Destination::of_host_port;
        assert_eq!(of("kafka-1:9092"), Some(to("kafka-1", 9092)));
        assert_eq!(of("[::1]:9092"), Some(to("::1", 9092)));
        for bad in [
            "a:1,evil:9092",
            "a, b:9092",
            "SSL://a:9093",
            "a:99999",
            ":9092",
            "a",
        ] {
            assert_eq!(of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_refusal_names_the_field_and_the_flag() {
        let error = AllowList::default()
            .check("pub_sub.sqs.endpoint", &to("10.0.0.1", 80))
            .unwrap_err();
        assert_eq!(error.code, "outbound_not_allowed");
        assert!(
            error.message.starts_with("pub_sub.sqs.endpoint:"),
            "{error:?}"
        );
        assert!(error.message.contains("10.0.0.1:80"), "{error:?}");
        assert!(error.message.contains(ALLOW_OUTBOUND_FLAG), "{error:?}");
    }
}
