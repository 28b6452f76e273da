//! What `add_host_metadata` takes from the kernel rather than from files: `uname` (the
//! architecture and kernel release, as go-sysinfo's `Architecture` and `KernelVersion`) and
//! the addresses of the network interfaces (libbeat's `processors/util.GetNetInfo`).

use std::collections::BTreeSet;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `uname -m` and `uname -r`, e.g. `("x86_64", "6.1.0-18-amd64")`; empty on failure.
pub fn uname() -> (String, String) {
    // SAFETY: uname fills a zeroed utsname whose fields are NUL-terminated on success.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return (String::new(), String::new());
        }
        let field = |f: &[libc::c_char]| CStr::from_ptr(f.as_ptr()).to_string_lossy().into_owned();
        (field(&u.machine), field(&u.release))
    }
}

/// One interface as `getifaddrs` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub loopback: bool,
    /// The link-layer address, as raw bytes (empty when the interface has none).
    pub hardware: Vec<u8>,
    pub addrs: Vec<IpAddr>,
}

/// Go's `net.HardwareAddr.String`: lowercase hex pairs joined by `:`. Go leaves an
/// all-zero address out of the interface (net/interface_linux.go), so it gives "" here.
pub fn format_mac(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| *b == 0) {
        return String::new();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `host.ip` and `host.mac` from a list of interfaces, as `GetNetInfo` builds them:
/// loopback interfaces are skipped; IPs keep interface order (each interface's addresses in
/// the kernel's order); MACs are sorted and deduplicated.
pub fn net_info(interfaces: &[Interface]) -> (Vec<String>, Vec<String>) {
    let mut ips = Vec::new();
    let mut macs = BTreeSet::new();
    for i in interfaces.iter().filter(|i| !i.loopback) {
        let mac = format_mac(&i.hardware);
        if !mac.is_empty() {
            macs.insert(mac);
        }
        ips.extend(i.addrs.iter().map(IpAddr::to_string));
    }
    (ips, macs.into_iter().collect())
}

/// The interfaces of this network namespace in index order, from `getifaddrs`. An IPv4
/// alias label (`eth0:1`) counts as its interface (`eth0`), as Go's index lookup does.
pub fn interfaces() -> std::io::Result<Vec<Interface>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we walk read-only and free with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out: Vec<Interface> = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a live node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated C string owned by the list.
        let full = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        let name = full.split(':').next().unwrap_or_default().to_string();
        let pos = match out.iter().position(|i| i.name == name) {
            Some(p) => p,
            None => {
                let cname = std::ffi::CString::new(name.clone()).unwrap_or_default();
                // SAFETY: if_nametoindex reads a valid C string.
                let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
                out.push(Interface {
                    name,
                    index,
                    ..Interface::default()
                });
                out.len() - 1
            }
        };
        let entry = &mut out[pos];
        entry.loopback |= ifa.ifa_flags & libc::IFF_LOOPBACK as libc::c_uint != 0;
        // SAFETY: ifa_addr, when set, points at a sockaddr of the family it names.
        unsafe { add_address(entry, ifa.ifa_addr) };
    }
    // SAFETY: freeing the list getifaddrs returned, once.
    unsafe { libc::freeifaddrs(head) };
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// # Safety
/// `sa` is null or points at a sockaddr whose size matches its `sa_family`.
unsafe fn add_address(entry: &mut Interface, sa: *const libc::sockaddr) {
    if sa.is_null() {
        return;
    }
    match i32::from((*sa).sa_family) {
        libc::AF_INET => {
            let a = &*(sa as *const libc::sockaddr_in);
            entry
                .addrs
                .push(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))));
        }
        libc::AF_INET6 => {
            let a = &*(sa as *const libc::sockaddr_in6);
            let v6 = Ipv6Addr::from(a.sin6_addr.s6_addr);
            // Go prints an IPv4-mapped address as plain IPv4.
            entry.addrs.push(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            });
        }
        libc::AF_PACKET => {
            let l = &*(sa as *const libc::sockaddr_ll);
            let len = usize::from(l.sll_halen).min(l.sll_addr.len());
            entry.hardware = l.sll_addr[..len].to_vec();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_go_formatted_sorted_unique_and_loopback_is_skipped() {
        let ifs = vec![
            Interface {
                name: "lo".into(),
                index: 1,
                loopback: true,
                hardware: vec![0; 6],
                addrs: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            },
            Interface {
                name: "eth1".into(),
                index: 2,
                hardware: vec![0x52, 0x54, 0, 0xAB, 0xcd, 0x0f],
                addrs: vec![
                    "10.0.0.5".parse().unwrap(),
                    "fe80::5054:ff:feab:cd0f".parse().unwrap(),
                ],
                ..Interface::default()
            },
            Interface {
                name: "eth0".into(),
                index: 3,
                hardware: vec![0x02, 0x42, 0xac, 0x11, 0, 2],
                addrs: vec!["172.17.0.2".parse().unwrap()],
                ..Interface::default()
            },
            Interface {
                name: "tun0".into(),
                index: 4,
                hardware: vec![],
                addrs: vec!["2001:db8::1".parse().unwrap()],
                ..Interface::default()
            },
            Interface {
                name: "bond-slave".into(),
                index: 5,
                hardware: vec![0x02, 0x42, 0xac, 0x11, 0, 2],
                ..Interface::default()
            },
        ];
        let (ips, macs) = net_info(&ifs);
        assert_eq!(
            ips,
            [
                "10.0.0.5",
                "fe80::5054:ff:feab:cd0f",
                "172.17.0.2",
                "2001:db8::1"
            ]
        );
        assert_eq!(macs, ["02:42:ac:11:00:02", "52:54:00:ab:cd:0f"]);
    }

    #[test]
    fn this_machine_has_a_loopback_and_uname_answers() {
        let ifs = interfaces().unwrap();
        assert!(ifs.iter().any(|i| i.loopback && i.name == "lo"), "{ifs:?}");
        assert!(ifs.windows(2).all(|w| w[0].index <= w[1].index));
        let (arch, kernel) = uname();
        assert!(!arch.is_empty() && !kernel.is_empty());
    }
}
