//! Where deliveries may connect (issue 17 item 7): endpoint URLs must not turn Inlet against
//! the operator's own network. Public addresses are allowed, as users of a webhook gateway
//! expect; private, loopback, link-local (with the cloud metadata address), CGNAT, multicast,
//! broadcast, unspecified, documentation and other reserved addresses, also in their
//! IPv4-mapped and NAT64 IPv6 forms, are refused unless the operator's allow-list
//! (`--allow-outbound`, [`AllowList`]) allows them.
//!
//! The check is made twice: on the URL when an endpoint is written
//! ([`validate_endpoint_url`], which can only judge literal addresses and `localhost`
//! names), and on every address a name resolves to when a connection is opened
//! ([`PolicyConnector`]), so a name that resolves (or is rebound) to a refused address is
//! never connected.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioIo;
use inlet_model::Invalid;
use inlet_model::outbound::{ALLOW_OUTBOUND_ENV, ALLOW_OUTBOUND_FLAG, AllowList, Destination};
use ipnet::{Ipv4Net, Ipv6Net};
use tokio::net::TcpStream;

type BoxError = Box<dyn Error + Send + Sync>;

/// The error code of a destination the policy refuses, the same as for broker sources.
pub const CODE_NOT_ALLOWED: &str = "outbound_not_allowed";
/// The error code of a URL that is not an `http(s)://host[:port]` URL.
pub const CODE_INVALID_URL: &str = "invalid_endpoint_url";

/// The endpoint field the URL is written in, as errors name it.
const URL_FIELD: &str = "url";

/// Longer URLs are refused: one is kept with every endpoint and sent with every delivery.
pub const MAX_URL_LEN: usize = 4096;

/// Where deliveries may connect: any public address, and beyond them what the operator's
/// allow-list allows.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: AllowList,
}

impl Policy {
    pub fn new(allowed: AllowList) -> Self {
        Self { allowed }
    }

    /// Whether a connection to `address` may be opened: Ok when the address is public or
    /// allowed, else the name of the range that refuses it.
    pub(crate) fn check(&self, address: SocketAddr) -> Result<(), &'static str> {
        let ip = address.ip();
        let Some(range) = refused_range(ip) else {
            return Ok(());
        };
        // `::ffff:127.0.0.1` reaches 127.0.0.1, so a pattern for either form allows it.
        let allowed = [ip, ip.to_canonical()].into_iter().any(|ip| {
            self.allowed.allows(&Destination {
                host: ip.to_string(),
                port: address.port(),
            })
        });
        if allowed { Ok(()) } else { Err(range) }
    }

    /// Whether the allow-list names this host (a name, not an address) and port: then it
    /// is trusted wherever it resolves.
    pub(crate) fn allows_name(&self, name: &str, port: u16) -> bool {
        Destination::of_host_port(&format!("{name}:{port}"))
            .is_some_and(|destination| self.allowed.allows(&destination))
    }
}

/// An endpoint URL that passed [`validate_endpoint_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    uri: Uri,
}

impl EndpointUrl {
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub fn into_uri(self) -> Uri {
        self.uri
    }
}

/// Checks an endpoint URL when it is written: `http` or `https`, a host, no user info, a
/// port from 1 to 65535; a literal address the policy refuses, a `localhost` name
/// (`localhost`, `*.localhost`) the allow-list does not name, and a host that only a
/// resolver would read as an address (`127.1`, `2130706433`, `0x7f.1`) are refused. Any
/// other name is judged when it is resolved, by [`PolicyConnector`]. Errors name the `url`
/// field; their codes are [`CODE_INVALID_URL`] and [`CODE_NOT_ALLOWED`].
pub fn validate_endpoint_url(url: &str, policy: &Policy) -> Result<EndpointUrl, Invalid> {
    let invalid = |why: &str| Invalid::new(CODE_INVALID_URL, format!("{URL_FIELD}: {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(invalid(&format!("longer than {MAX_URL_LEN} bytes")));
    }
    let uri: Uri = url.parse().map_err(|e| {
        invalid(&format!(
            "not a URL ({e}); expected http(s)://host[:port]/path"
        ))
    })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(scheme) => {
            return Err(invalid(&format!(
                "scheme {scheme:?}: expected http or https"
            )));
        }
        None => {
            return Err(invalid("no scheme: expected http(s)://"));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(invalid("no host"));
    };
    // `http://a@b/` reads as host a to a person and connects to b.
    if authority.as_str().contains('@') {
        return Err(invalid(
            "user info (user:password@) is not allowed in the URL",
        ));
    }
    // What follows the host; `http::Uri` reads a port it cannot parse (`:99999`) as none.
    let port = authority.as_str().get(authority.host().len()..);
    if let Some(port) = port.and_then(|port| port.strip_prefix(':'))
        && !port.parse::<u16>().is_ok_and(|port| port > 0)
    {
        return Err(invalid(&format!("port {port:?}: expected 1 to 65535")));
    }
    let Some(destination) = Destination::of_url(url) else {
        return Err(invalid(&format!(
            "host {:?} is not a host name or IP address",
            authority.host()
        )));
    };
    let not_allowed = |why: String| {
        Invalid::new(
            CODE_NOT_ALLOWED,
            format!(
                "{URL_FIELD}: {why}; the operator allows destinations with \
                 {ALLOW_OUTBOUND_FLAG} (or {ALLOW_OUTBOUND_ENV})"
            ),
        )
    };
    let Destination { host, port } = &destination;
    if let Ok(ip) = host.parse::<IpAddr>() {
        policy
            .check(SocketAddr::new(ip, *port))
            .map_err(|range| not_allowed(format!("{} is {range}", shown(ip, *port))))?;
    } else if reads_as_address(host) {
        return Err(invalid(&format!(
            "host {host:?} would be read as an IP address: write an IPv4 address as four \
             decimal numbers (a.b.c.d), or use a name"
        )));
    } else if is_localhost(host) && !policy.allows_name(host, *port) {
        return Err(not_allowed(format!("{host} names this machine")));
    }
    Ok(EndpointUrl { uri })
}

/// `localhost` and the names under it, which resolve to loopback (RFC 6761).
fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// A name whose last label is a number (`127.1`, `2130706433`, `0x7f.1`): no top-level
/// domain is one, and resolvers (inet_aton) read such names as IPv4 addresses.
fn reads_as_address(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|digits| digits.chars().all(|c| c.is_ascii_hexdigit()));
    hex || last.chars().all(|c| c.is_ascii_digit())
}

/// `address:port` as written in a URL (IPv6 in brackets).
fn shown(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// The range that refuses an address by default, by name; None for a public address.
fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// Refused IPv4 ranges (RFC 6890 special-purpose registry), the more specific first.
const REFUSED_V4: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 8), "unspecified (this network)"),
    (v4(10, 0, 0, 0, 8), "private"),
    (v4(100, 64, 0, 0, 10), "shared address space (CGNAT)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 169, 254, 32), "the cloud metadata address"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), "private"),
    (v4(192, 0, 0, 0, 24), "reserved (IETF protocol assignments)"),
    (v4(192, 0, 2, 0, 24), "documentation"),
    (v4(192, 168, 0, 0, 16), "private"),
    (v4(198, 18, 0, 0, 15), "benchmarking"),
    (v4(198, 51, 100, 0, 24), "documentation"),
    (v4(203, 0, 113, 0, 24), "documentation"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved"),
];

/// NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached.
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// Refused IPv6 ranges, the more specific first; IPv4-mapped addresses are judged as IPv4.
const REFUSED_V6: &[(Ipv6Net, &str)] = &[
    (v6([0; 8], 128), "unspecified"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (v6([0; 8], 96), "reserved (IPv4-compatible)"),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "private (local-use NAT64)",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "reserved (discard-only)",
    ),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), "documentation"),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "private (unique local)",
    ),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (deprecated)",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    REFUSED_V4
        .iter()
        .find(|(range, _)| range.contains(&ip))
        .map(|(_, name)| *name)
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if NAT64.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return refused_v4(Ipv4Addr::new(a, b, c, d));
    }
    REFUSED_V6
        .iter()
        .find(|(range, _)| range.contains(&ip))
        .map(|(_, name)| *name)
}

/// A connection the policy refused: every address the host names or resolves to is
/// refused. Found in the source chain of the client's connect error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    host: String,
    port: u16,
    /// Whether the addresses are what a name resolved to (else the host is one).
    resolved: bool,
    /// The refused addresses with their ranges, at most [`Refused::SHOWN`] of them.
    addresses: Vec<(IpAddr, &'static str)>,
    /// How many more addresses were refused than are kept.
    more: usize,
}

impl Refused {
    /// A hostile name may resolve to many addresses; the message shows a few.
    const SHOWN: usize = 4;

    fn literal(ip: IpAddr, port: u16, range: &'static str) -> Self {
        Self {
            host: ip.to_string(),
            port,
            resolved: false,
            addresses: vec![(ip, range)],
            more: 0,
        }
    }

    fn resolved(
        host: &str,
        port: u16,
        refused: impl IntoIterator<Item = (IpAddr, &'static str)>,
    ) -> Self {
        let mut addresses = Vec::new();
        let mut more = 0;
        for address in refused {
            if addresses.len() < Self::SHOWN {
                addresses.push(address);
            } else {
                more += 1;
            }
        }
        Self {
            host: host.to_owned(),
            port,
            resolved: true,
            addresses,
            more,
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (host, port) = (&self.host, self.port);
        if host.contains(':') {
            write!(f, "Inlet may not connect to [{host}]:{port}: ")?;
        } else {
            write!(f, "Inlet may not connect to {host}:{port}: ")?;
        }
        if self.resolved {
            write!(f, "it resolves only to ")?;
        }
        for (i, (ip, range)) in self.addresses.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{ip} ({range})")?;
        }
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        write!(
            f,
            "; the operator allows destinations with {ALLOW_OUTBOUND_FLAG} (or \
             {ALLOW_OUTBOUND_ENV})"
        )
    }
}

impl Error for Refused {}

/// The TCP connector of the delivery client: hyper-util's `HttpConnector`, with every
/// address it would connect to checked against the policy first, a literal one in the URL
/// as well as each one a name resolves to (where addresses the policy refuses are dropped,
/// and [`Refused`] is the error when none remains). It accepts `https` URIs too (it opens
/// the TCP connection; TLS is the wrapping connector's part). TCP_NODELAY is set: a
/// delivery is one small request that waits for its answer.
#[derive(Debug, Clone)]
pub struct PolicyConnector {
    policy: Arc<Policy>,
    connect_timeout: Duration,
}

impl PolicyConnector {
    /// `connect_timeout` bounds resolving a name, and then connecting (shared among the
    /// addresses it resolves to).
    pub fn new(policy: Arc<Policy>, connect_timeout: Duration) -> Self {
        Self {
            policy,
            connect_timeout,
        }
    }

    /// The connector for one connection: the resolver must know the port, which
    /// `HttpConnector` does not pass it, to apply `host:port` patterns.
    fn http_connector(&self, port: u16) -> HttpConnector<PolicyResolver> {
        let mut connector = HttpConnector::new_with_resolver(PolicyResolver {
            policy: self.policy.clone(),
            port,
            timeout: self.connect_timeout,
        });
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(self.connect_timeout));
        connector
    }
}

impl tower::Service<Uri> for PolicyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The port and address as `HttpConnector` reads them, which connects to a literal
        // address without asking the resolver.
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let literal = uri
            .host()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|host| host.parse::<IpAddr>().ok());
        if let Some(ip) = literal
            && let Err(range) = self.policy.check(SocketAddr::new(ip, port))
        {
            let refused = Refused::literal(ip, port, range);
            return Box::pin(async move { Err(refused.into()) });
        }
        let mut connector = self.http_connector(port);
        Box::pin(async move {
            tower::Service::call(&mut connector, uri)
                .await
                .map_err(BoxError::from)
        })
    }
}

/// Resolves a name with the system resolver and keeps the addresses the policy allows
/// (all of them when the allow-list names the host itself).
#[derive(Debug, Clone)]
struct PolicyResolver {
    policy: Arc<Policy>,
    port: u16,
    timeout: Duration,
}

impl tower::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let (policy, port, timeout) = (self.policy.clone(), self.port, self.timeout);
        Box::pin(async move {
            let host = name.as_str();
            let lookup = tokio::net::lookup_host((host, port));
            let resolved: Vec<SocketAddr> = tokio::time::timeout(timeout, lookup)
                .await
                .map_err(|_| format!("resolving {host} timed out"))??
                .collect();
            if resolved.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            if policy.allows_name(host, port) {
                return Ok(resolved.into_iter());
            }
            let (mut allowed, mut refused) = (Vec::new(), Vec::new());
            for address in resolved {
                match policy.check(address) {
                    Ok(()) => allowed.push(address),
                    Err(range) => refused.push((address.ip(), range)),
                }
            }
            if allowed.is_empty() {
                return Err(Refused::resolved(host, port, refused).into());
            }
            Ok(allowed.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tokio::net::TcpListener;

    fn allowing(patterns: &[&str]) -> Policy {
        Policy::new(AllowList::parse(patterns).unwrap())
    }

    fn refused(ip: &str) -> Option<&'static str> {
        refused_range(ip.parse().unwrap())
    }

    #[test]
    fn every_special_ipv4_range_is_refused_and_named() {
        for (ip, range) in [
            ("0.0.0.0", "unspecified (this network)"),
            ("0.1.2.3", "unspecified (this network)"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "shared address space (CGNAT)"),
            ("100.127.255.254", "shared address space (CGNAT)"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "the cloud metadata address"),
            ("169.254.0.1", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.192", "reserved (IETF protocol assignments)"),
            ("192.0.2.1", "documentation"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.7", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            assert_eq!(refused(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn every_special_ipv6_range_is_refused_and_named() {
        for (ip, range) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::7f00:1", "reserved (IPv4-compatible)"),
            ("64:ff9b:1::1", "private (local-use NAT64)"),
            ("100::1", "reserved (discard-only)"),
            ("2001:db8::1", "documentation"),
            ("fc00::1", "private (unique local)"),
            ("fd00:ec2::254", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(refused(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_as_ipv4() {
        for (ip, range) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:172.16.0.1", "private"),
            ("::ffff:192.168.0.1", "private"),
            ("::ffff:169.254.169.254", "the cloud metadata address"),
            ("::ffff:169.254.1.1", "link-local"),
            ("::ffff:100.64.0.1", "shared address space (CGNAT)"),
            ("::ffff:0.0.0.0", "unspecified (this network)"),
            ("::ffff:224.0.0.1", "multicast"),
            ("::ffff:255.255.255.255", "broadcast"),
            ("::ffff:192.0.2.1", "documentation"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "the cloud metadata address"),
            ("64:ff9b::10.0.0.1", "private"),
        ] {
            assert_eq!(refused(ip), Some(range), "{ip}");
        }
        assert_eq!(refused("::ffff:93.184.215.14"), None);
        assert_eq!(
            refused("64:ff9b::93.184.215.14"),
            None,
            "public through NAT64"
        );
    }

    #[test]
    fn public_addresses_are_allowed_by_default() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.0.1.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
            let address = SocketAddr::new(ip.parse().unwrap(), 443);
            assert_eq!(Policy::default().check(address), Ok(()), "{ip}");
        }
    }

    #[test]
    fn the_allow_list_allows_refused_addresses_by_address_network_and_port() {
        let policy = allowing(&["10.0.0.0/8", "127.0.0.1:8080", "fd00::/8", "[::1]:9000"]);
        let check = |address: &str| policy.check(address.parse().unwrap());
        assert_eq!(check("10.1.2.3:443"), Ok(()));
        assert_eq!(check("[::ffff:10.1.2.3]:443"), Ok(()), "the mapped form");
        assert_eq!(check("127.0.0.1:8080"), Ok(()));
        assert_eq!(check("[::ffff:127.0.0.1]:8080"), Ok(()));
        assert_eq!(check("127.0.0.1:8081"), Err("loopback"), "another port");
        assert_eq!(check("127.0.0.2:8080"), Err("loopback"));
        assert_eq!(check("[fd12::1]:80"), Ok(()));
        assert_eq!(check("[fc00::1]:80"), Err("private (unique local)"));
        assert_eq!(check("[::1]:9000"), Ok(()));
        assert_eq!(check("[::1]:9001"), Err("loopback"));
        assert_eq!(check("172.16.0.1:80"), Err("private"));
        assert_eq!(
            check("169.254.169.254:80"),
            Err("the cloud metadata address")
        );
    }

    fn url_error(url: &str, policy: &Policy) -> Invalid {
        validate_endpoint_url(url, policy).expect_err(url)
    }

    #[test]
    fn urls_that_are_not_http_urls_with_a_host_are_invalid() {
        let policy = Policy::default();
        for (url, says) in [
            ("", "not a URL"),
            ("not a url", "not a URL"),
            ("ftp://example.com/", "scheme \"ftp\""),
            ("file:///etc/passwd", "not a URL"),
            ("example.com/hook", "not a URL"),
            ("example.com:8080", "no scheme"),
            ("http:///hook", "not a URL"),
            ("http://user:secret@example.com/", "user info"),
            ("http://example.com@169.254.169.254/", "user info"),
            ("http://example.com:0/", "port \"0\""),
            ("http://example.com:65536/", "port \"65536\""),
            ("http://example.com:99999/", "port \"99999\""),
            ("http://example.com:/", "port \"\""),
            ("http://exa_mple.com/", "host \"exa_mple.com\""),
            ("http://example..com/", "host \"example..com\""),
            ("http://127.1/", "would be read as an IP address"),
            ("http://2130706433/", "would be read as an IP address"),
            ("http://0x7f.0.0.1/", "would be read as an IP address"),
            ("http://0x7f000001/", "would be read as an IP address"),
        ] {
            let error = url_error(url, &policy);
            assert_eq!(error.code, CODE_INVALID_URL, "{url}: {error:?}");
            assert!(error.message.starts_with("url: "), "{url}: {error:?}");
            assert!(error.message.contains(says), "{url}: {error:?}");
        }
    }

    #[test]
    fn urls_are_bounded_in_length() {
        let at_most = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
        assert_eq!(at_most.len(), MAX_URL_LEN);
        assert!(validate_endpoint_url(&at_most, &Policy::default()).is_ok());
        let error = url_error(&format!("{at_most}a"), &Policy::default());
        assert_eq!(error.code, CODE_INVALID_URL);
        assert_eq!(
            error.message,
            format!("url: longer than {MAX_URL_LEN} bytes")
        );
    }

    #[test]
    fn literal_addresses_in_refused_ranges_are_refused_by_name() {
        let policy = Policy::default();
        for (url, says) in [
            ("http://127.0.0.1/", "127.0.0.1:80 is loopback"),
            ("https://10.0.0.1/hook", "10.0.0.1:443 is private"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254:80 is the cloud metadata address",
            ),
            ("http://[::1]:8080/", "[::1]:8080 is loopback"),
            (
                "http://[::ffff:169.254.169.254]/",
                "[::ffff:169.254.169.254]:80 is the cloud metadata address",
            ),
            ("http://[fe80::1]/", "[fe80::1]:80 is link-local"),
            ("http://0.0.0.0:8080/", "0.0.0.0:8080 is unspecified"),
            ("http://100.100.100.200/", "is shared address space (CGNAT)"),
        ] {
            let error = url_error(url, &policy);
            assert_eq!(error.code, CODE_NOT_ALLOWED, "{url}: {error:?}");
            assert!(error.message.starts_with("url: "), "{url}: {error:?}");
            assert!(error.message.contains(says), "{url}: {error:?}");
            assert!(
                error.message.contains(ALLOW_OUTBOUND_FLAG),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn localhost_names_are_refused_unless_named_by_the_allow_list() {
        for url in [
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://api.localhost/",
        ] {
            let error = url_error(url, &Policy::default());
            assert_eq!(error.code, CODE_NOT_ALLOWED, "{url}: {error:?}");
            assert!(
                error.message.contains("names this machine"),
                "{url}: {error:?}"
            );
        }
        let error = url_error("http://localhost/", &allowing(&["127.0.0.1"]));
        assert_eq!(
            error.code, CODE_NOT_ALLOWED,
            "an address does not allow a name"
        );
        let policy = allowing(&["localhost:8080", "*.localhost"]);
        assert!(validate_endpoint_url("http://localhost:8080/", &policy).is_ok());
        assert!(validate_endpoint_url("http://api.localhost/", &policy).is_ok());
        assert_eq!(
            url_error("http://localhost:8081/", &policy).code,
            CODE_NOT_ALLOWED
        );
    }

    #[test]
    fn valid_urls_are_kept_as_written() {
        let policy = allowing(&["10.0.0.0/8", "[fd00::/8]:443"]);
        for url in [
            "https://example.com/webhooks?tenant=1",
            "http://hooks.example.com:8080/in",
            "https://93.184.215.14/",
            "https://[2606:4700:4700::1111]/",
            "http://10.20.30.40:9000/hook",
            "https://[fd00::5]/",
            "http://receiver/",
            "http://3f2a9b/",
            "http://localhost.example.com/",
        ] {
            let endpoint = validate_endpoint_url(url, &policy).expect(url);
            assert_eq!(endpoint.uri(), &url.parse::<Uri>().unwrap(), "{url}");
        }
        assert_eq!(
            url_error("http://[fd00::5]/", &policy).code,
            CODE_NOT_ALLOWED,
            "the network is allowed at port 443 only"
        );
    }

    #[test]
    fn a_refusal_shows_a_few_of_many_addresses() {
        let many = (1..=10).map(|i| (IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), "private"));
        let message = Refused::resolved("many.example", 80, many).to_string();
        assert!(
            message.starts_with(
                "Inlet may not connect to many.example:80: it resolves only to 10.0.0.1 \
                 (private), 10.0.0.2 (private), 10.0.0.3 (private), 10.0.0.4 (private) and \
                 6 more; "
            ),
            "{message}"
        );
        let message = Refused::literal(Ipv6Addr::LOCALHOST.into(), 80, "loopback").to_string();
        assert!(
            message.starts_with("Inlet may not connect to [::1]:80: ::1 (loopback); "),
            "{message}"
        );
    }

    /// The policy refusal in a client error's source chain, if that is its cause.
    fn refusal<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e Refused> {
        let mut cause = Some(error);
        while let Some(error) = cause {
            if let Some(refused) = error.downcast_ref::<Refused>() {
                return Some(refused);
            }
            cause = error.source();
        }
        None
    }

    /// A receiver on loopback answering 204 to every request.
    async fn receiver() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    async fn answer_one(listener: &TcpListener) {
        let (stream, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(|_| async {
            let mut response = hyper::Response::new(Empty::<Bytes>::new());
            *response.status_mut() = http::StatusCode::NO_CONTENT;
            Ok::<_, std::convert::Infallible>(response)
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await
            .unwrap();
    }

    async fn get(policy: Policy, url: &str) -> Result<http::StatusCode, BoxError> {
        let connector = PolicyConnector::new(Arc::new(policy), Duration::from_secs(5));
        let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
        // Bounded, so that a receiver connected by mistake (which never answers) fails.
        let response =
            tokio::time::timeout(Duration::from_secs(5), client.get(url.parse()?)).await??;
        Ok(response.status())
    }

    async fn assert_no_connection(listener: &TcpListener) {
        // A connection the client had opened would be queued by the time it gave up.
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            accepted.is_err(),
            "the receiver was connected: {accepted:?}"
        );
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_never_connected() {
        let (listener, port) = receiver().await;
        let error = get(Policy::default(), &format!("http://localhost:{port}/"))
            .await
            .unwrap_err();
        let refused = refusal(error.as_ref()).unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!((refused.host.as_str(), refused.port), ("localhost", port));
        assert!(refused.resolved);
        assert!(
            refused
                .addresses
                .contains(&(Ipv4Addr::LOCALHOST.into(), "loopback")),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("it resolves only to"),
            "{refused}"
        );
        assert_no_connection(&listener).await;
    }

    #[tokio::test]
    async fn a_literal_loopback_address_is_never_connected() {
        // HttpConnector connects to a literal address without asking the resolver.
        let (listener, port) = receiver().await;
        let error = get(Policy::default(), &format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        let refused = refusal(error.as_ref()).unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(
            refused,
            &Refused::literal(Ipv4Addr::LOCALHOST.into(), port, "loopback")
        );
        let error = get(
            Policy::default(),
            &format!("http://[::ffff:127.0.0.1]:{port}/"),
        )
        .await
        .unwrap_err();
        assert!(refusal(error.as_ref()).is_some(), "{error:?}");
        assert_no_connection(&listener).await;
    }

    #[tokio::test]
    async fn an_address_allowed_at_another_port_is_not_connected() {
        let (listener, port) = receiver().await;
        let other = port.wrapping_add(1).max(1);
        let error = get(
            allowing(&[&format!("127.0.0.1:{other}")]),
            &format!("http://localhost:{port}/"),
        )
        .await
        .unwrap_err();
        assert!(refusal(error.as_ref()).is_some(), "{error:?}");
        assert_no_connection(&listener).await;
    }

    #[tokio::test]
    async fn an_allowed_loopback_address_is_connected() {
        for patterns in [&["127.0.0.1"][..], &["127.0.0.0/8"], &["localhost"]] {
            let (listener, port) = receiver().await;
            let url = format!("http://localhost:{port}/");
            let (status, ()) = tokio::join!(get(allowing(patterns), &url), answer_one(&listener));
            assert_eq!(
                status.unwrap(),
                http::StatusCode::NO_CONTENT,
                "{patterns:?}"
            );
        }
    }
}
