//! Listening sockets, read from /proc/net (no `ss` needed), against the allow-list.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Ctx, Finding, Level};

/// A socket waiting for connections (TCP LISTEN, or a bound UDP socket with no peer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// The local address.
    pub addr: IpAddr,
    /// The local port.
    pub port: u16,
    /// The socket's inode, to find its process.
    pub inode: u64,
}

impl Listener {
    /// `tcp:0.0.0.0:22`, `tcp:[::1]:25`.
    pub fn name(&self) -> String {
        match self.addr {
            IpAddr::V4(a) => format!("{}:{a}:{}", self.proto, self.port),
            IpAddr::V6(a) => format!("{}:[{a}]:{}", self.proto, self.port),
        }
    }
}

/// Parse one /proc/net table (`tcp`, `tcp6`, `udp`, `udp6`).
pub fn parse(text: &str, proto: &'static str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (f.get(1)?, f.get(2)?, f.get(3)?);
            let listening = match proto {
                "tcp" => *state == "0A",
                _ => remote
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| port == "0000"),
            };
            if !listening {
                return None;
            }
            let (addr, port) = local.rsplit_once(':')?;
            Some(Listener {
                proto,
                addr: address(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// The kernel prints each 32-bit word of the address in host order.
fn address(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<[u8; 4]>> = (0..hex.len() / 8)
        .map(|i| {
            let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
            Some(word.to_ne_bytes())
        })
        .collect();
    let bytes: Vec<u8> = words?.concat();
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// Whether an allow-list entry (`PROTO:ADDRESS:PORT`, `*` for any address or port) covers
/// a listener.
pub fn allowed(entry: &str, l: &Listener) -> bool {
    let Some((proto, rest)) = entry.split_once(':') else {
        return false;
    };
    let Some((addr, port)) = rest.rsplit_once(':') else {
        return false;
    };
    let addr_ok = addr == "*"
        || addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|a| a == l.addr);
    proto == l.proto && addr_ok && (port == "*" || port.parse() == Ok(l.port))
}

/// Which process owns each socket inode (readable as root; empty otherwise).
fn owners() -> BTreeMap<u64, String> {
    let mut owners = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for proc in procs.filter_map(Result::ok) {
        let pid = proc.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc.path().join("fd")) else {
            continue;
        };
        let comm = std::fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                owners.insert(inode, format!("{} (pid {pid})", comm.trim()));
            }
        }
    }
    owners
}

/// Every listening socket not in `[maint] ports_allow` is a warning.
pub fn listening(ctx: &Ctx) -> Vec<Finding> {
    let mut all = Vec::new();
    for (file, proto) in [
        ("tcp", "tcp"),
        ("tcp6", "tcp"),
        ("udp", "udp"),
        ("udp6", "udp"),
    ] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/net/{file}")) {
            all.extend(parse(&text, proto));
        }
    }
    all.sort();
    all.dedup_by(|a, b| a.proto == b.proto && a.addr == b.addr && a.port == b.port);
    let allow = &ctx.config.maint.ports_allow;
    let unexpected: Vec<&Listener> = all
        .iter()
        .filter(|l| !allow.iter().any(|e| allowed(e, l)))
        .collect();
    if unexpected.is_empty() {
        return vec![Finding::new(
            "ports",
            "ports",
            Level::Ok,
            format!("{} listening sockets, all in the allow-list", all.len()),
        )];
    }
    let owners = owners();
    unexpected
        .into_iter()
        .map(|l| {
            let owner = owners
                .get(&l.inode)
                .map_or(String::new(), |o| format!(" by {o}"));
            Finding::new(
                "ports",
                format!("port:{}", l.name()),
                Level::Warn,
                format!(
                    "{} is listening{owner} and not in [maint] ports_allow",
                    l.name()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0019 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0
   3: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1004 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3001 2 0000000000000000 0
  101: 0A00020F:A1B2 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0
";

    #[test]
    fn parses_listeners_only() {
        let tcp = parse(TCP, "tcp");
        let names: Vec<String> = tcp.iter().map(Listener::name).collect();
        assert_eq!(
            names,
            ["tcp:0.0.0.0:22", "tcp:127.0.0.1:25", "tcp:0.0.0.0:8080"]
        );
        assert_eq!(parse(TCP6, "tcp")[0].name(), "tcp:[::1]:25");
        let udp: Vec<String> = parse(UDP, "udp").iter().map(Listener::name).collect();
        assert_eq!(udp, ["udp:0.0.0.0:68"]);
    }

    #[test]
    fn allow_list() {
        let tcp = parse(TCP, "tcp");
        assert!(allowed("tcp:*:22", &tcp[0]));
        assert!(allowed("tcp:127.0.0.1:25", &tcp[1]));
        assert!(allowed("tcp:127.0.0.1:*", &tcp[1]));
        assert!(!allowed("udp:*:22", &tcp[0]));
        assert!(!allowed("tcp:127.0.0.1:22", &tcp[0]));
        assert!(!allowed("tcp:*:80", &tcp[2]));
        assert!(allowed("tcp:[::1]:25", &parse(TCP6, "tcp")[0]));
        assert!(!allowed("garbage", &tcp[0]));
    }
}
