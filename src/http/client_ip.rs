//! Who the client is when the service runs behind load balancers or reverse proxies:
//! the peer address, unless the peer is a trusted proxy, whose `X-Forwarded-For` then
//! names the client.

use std::net::IpAddr;

/// The client address of a request (the peer, or what trusted proxies forwarded), put
/// into the request's extensions by the middleware for the operations that record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`: addresses or CIDR
/// blocks, comma-separated). Empty: the peer address is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

/// Parses one `addr` or `addr/prefix`.
fn block(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
    };
    // An IPv4-mapped IPv6 block is kept as the IPv4 block it is.
    match addr.to_canonical() {
        v4 @ IpAddr::V4(_) if addr.is_ipv6() => Ok((v4, prefix.saturating_sub(96))),
        canonical => Ok((canonical, prefix)),
    }
}

/// The leading `prefix` bits of `addr`.
fn network(addr: IpAddr, prefix: u8) -> u128 {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    bits.checked_shr(width - u32::from(prefix).min(width))
        .unwrap_or(0)
}

/// The address a client is counted under by the rate limits: IPv4 (IPv4-mapped IPv6
/// included) as is, IPv6 by its leading `v6_prefix` bits (a client owns a whole /64).
pub fn rate_key(addr: IpAddr, v6_prefix: u8) -> IpAddr {
    match addr.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        IpAddr::V6(a) => {
            let keep = u32::from(v6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl TrustedProxies {
    /// Parses the `TRUSTED_PROXIES` list; blank entries are ignored.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(block)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `addr` is one of the trusted proxies.
    pub fn contains(&self, addr: IpAddr) -> bool {
        // IPv4-mapped IPv6 peers compare as IPv4.
        let addr = addr.to_canonical();
        self.0.iter().any(|&(net, prefix)| {
            net.is_ipv4() == addr.is_ipv4() && network(net, prefix) == network(addr, prefix)
        })
    }

    /// The client behind `peer`: while the nearest hop is a trusted proxy, step back
    /// through `X-Forwarded-For` (right to left); the first untrusted address is the
    /// client. Anything unparsable ends the walk at the last trusted hop.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer;
        if self.0.is_empty() {
            return client;
        }
        let hops = forwarded_for
            .iter()
            .rev()
            .flat_map(|h| h.rsplit(','))
            .map(str::trim);
        for hop in hops {
            if !self.contains(client) {
                break;
            }
            match hop.parse::<IpAddr>() {
                Ok(addr) => client = addr,
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_keys_group_ipv6_by_prefix_and_unmap_ipv4() {
        let key = |a: &str, p| rate_key(a.parse().unwrap(), p).to_string();
        assert_eq!(key("10.9.9.0", 64), "10.9.9.0");
        assert_eq!(key("::ffff:10.9.9.0", 64), "10.9.9.0");
        assert_eq!(key("0:0:0:0:0:ffff:a09:900", 64), "10.9.9.0");
        assert_eq!(key("2001:db8:1:2::1", 64), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:ffff::9", 64), "2001:db8:1:2::");
        assert_ne!(key("2001:db8:1:3::1", 64), key("2001:db8:1:2::1", 64));
        assert_eq!(key("2001:db8:1:2::1", 48), "2001:db8:1::");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(key("2001:db8::1", 0), "::");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_blocks() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,").unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped IPv6");
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(TrustedProxies::parse("::ffff:10.0.0.0/104")
            .unwrap()
            .contains(ip("10.3.3.3")));
        assert!(
            !t.contains(ip("fe80::1"))
                && !TrustedProxies::parse("fd00::/8")
                    .unwrap()
                    .contains(ip("10.0.0.1"))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn believes_forwarded_for_only_from_trusted_proxies() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(t.client(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"));
        // Trusted peer: the right-most untrusted hop is the client; a spoofed left part
        // is not believed.
        assert_eq!(
            t.client(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.4, 10.0.0.3"]),
            ip("198.51.100.4")
        );
        // Several headers are one list, in order.
        assert_eq!(
            t.client(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.4"]),
            ip("198.51.100.4")
        );
        // Garbage ends the walk at the last trusted hop; no header: the peer.
        assert_eq!(t.client(ip("10.0.0.2"), &["nonsense"]), ip("10.0.0.2"));
        assert_eq!(t.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        // Nothing trusted: always the peer.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.2"), &["1.2.3.4"]), ip("10.0.0.2"));
    }
}
