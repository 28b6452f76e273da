//! libbeat's `network` condition (libbeat/conditions/network.go): `network: {field: NET}`
//! where NET is a CIDR (`10.0.0.0/8`, `2001:db8::/32`), one of the named networks
//! `loopback, global_unicast, unicast, link_local_unicast, interface_local_multicast,
//! link_local_multicast, multicast, unspecified, private, public`, or a list of those (any
//! matches). The field must hold one IP address as a string; anything else does not match.
//! Several fields must all match. The named networks follow Go's `net.IP` methods;
//! `private` is RFC 1918 plus `fd00::/8`, `public` is neither private, loopback,
//! unspecified, broadcast nor link-local.

use std::net::{IpAddr, Ipv4Addr};

use metricpipe_collect::Value;

const NAMED: [&str; 10] = [
    "loopback",
    "global_unicast",
    "unicast",
    "link_local_unicast",
    "interface_local_multicast",
    "link_local_multicast",
    "multicast",
    "unspecified",
    "private",
    "public",
];

/// One network a field may be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    Named(&'static str),
    Cidr(IpAddr, u8),
}

/// Go treats an IPv4-mapped IPv6 address as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Net {
    /// Parse a CIDR or a named network; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Net, String> {
        if let Some(name) = NAMED.iter().find(|n| **n == text) {
            return Ok(Net::Named(name));
        }
        let bad = || {
            format!("{text:?} is neither a CIDR like '192.0.2.0/24' or '2001:db8::/32' nor one of {NAMED:?}")
        };
        let (addr, bits) = text.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        Ok(Net::Cidr(canonical(ip), bits))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self {
            Net::Named(name) => named(name, ip),
            Net::Cidr(net, bits) => match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
                _ => false,
            },
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (full, rest) = (usize::from(bits / 8), bits % 8);
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

fn v4_private(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 10 || (o[0] == 172 && o[1] & 0xf0 == 16) || (o[0] == 192 && o[1] == 168)
}

fn link_local_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

fn multicast_scope(ip: IpAddr, scope: u8) -> bool {
    match ip {
        IpAddr::V4(a) => scope == 2 && a.octets()[..3] == [224, 0, 0],
        IpAddr::V6(a) => a.octets()[0] == 0xff && a.octets()[1] & 0x0f == scope,
    }
}

fn global_unicast(ip: IpAddr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || link_local_unicast(ip)
        || ip == IpAddr::V4(Ipv4Addr::BROADCAST))
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_private(a),
        IpAddr::V6(a) => a.octets()[0] == 0xfd,
    }
}

fn named(name: &str, ip: IpAddr) -> bool {
    match name {
        "loopback" => ip.is_loopback(),
        "global_unicast" | "unicast" => global_unicast(ip),
        "link_local_unicast" => link_local_unicast(ip),
        "interface_local_multicast" => multicast_scope(ip, 1),
        "link_local_multicast" => multicast_scope(ip, 2),
        "multicast" => ip.is_multicast(),
        "unspecified" => ip.is_unspecified(),
        "private" => private(ip),
        "public" => {
            !(private(ip)
                || ip.is_loopback()
                || ip.is_unspecified()
                || ip == IpAddr::V4(Ipv4Addr::BROADCAST)
                || link_local_unicast(ip)
                || multicast_scope(ip, 2)
                || multicast_scope(ip, 1))
        }
        _ => false,
    }
}

/// Whether the event value is one IP address inside any of `nets`.
pub fn value_in(value: Option<&Value>, nets: &[Net]) -> bool {
    let Some(Value::Str(s)) = value else {
        return false;
    };
    match s.parse::<IpAddr>() {
        Ok(ip) => nets.iter().any(|n| n.contains(ip)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is(net: &str, ip: &str) -> bool {
        Net::parse(net).unwrap().contains(ip.parse().unwrap())
    }

    #[test]
    fn cidrs() {
        assert!(is("10.0.0.0/8", "10.200.1.2"));
        assert!(!is("10.0.0.0/8", "11.0.0.1"));
        assert!(is("192.168.1.0/25", "192.168.1.127"));
        assert!(!is("192.168.1.0/25", "192.168.1.128"));
        assert!(is("2001:db8::/32", "2001:db8:ffff::1"));
        assert!(!is("2001:db8::/32", "10.0.0.1"));
        assert!(is("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(is("0.0.0.0/0", "8.8.8.8"));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("nowhere").unwrap_err().contains("private"));
    }

    #[test]
    fn named_networks_follow_go() {
        for (net, yes, no) in [
            ("loopback", "127.0.0.2", "10.0.0.1"),
            ("loopback", "::1", "::2"),
            ("private", "172.31.255.1", "172.32.0.1"),
            ("private", "fd12::1", "fc00::1"),
            ("public", "8.8.8.8", "192.168.0.1"),
            ("public", "2001:4860::8888", "fe80::1"),
            ("global_unicast", "10.0.0.1", "255.255.255.255"),
            ("unicast", "2001:db8::1", "ff02::1"),
            ("link_local_unicast", "169.254.3.4", "169.255.0.1"),
            ("link_local_unicast", "fe80::1", "fec0::1"),
            ("link_local_multicast", "224.0.0.251", "224.0.1.1"),
            ("link_local_multicast", "ff02::fb", "ff05::1"),
            ("interface_local_multicast", "ff01::1", "ff02::1"),
            ("multicast", "239.1.1.1", "10.0.0.1"),
            ("unspecified", "0.0.0.0", "0.0.0.1"),
            ("unspecified", "::", "::1"),
        ] {
            assert!(is(net, yes), "{net} should hold {yes}");
            assert!(!is(net, no), "{net} should not hold {no}");
        }
    }

    #[test]
    fn only_a_single_ip_string_matches() {
        let nets = [Net::parse("private").unwrap()];
        assert!(value_in(Some(&Value::Str("10.1.1.1".into())), &nets));
        assert!(!value_in(Some(&Value::Str("not-an-ip".into())), &nets));
        assert!(!value_in(
            Some(&Value::Array(vec![Value::Str("10.1.1.1".into())])),
            &nets
        ));
        assert!(!value_in(None, &nets));
    }
}
