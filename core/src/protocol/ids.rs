//! Message ids: the offset id (store host + physical offset) and the client's unique id (UNIQ_KEY).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// `offsetMsgId`: uppercase hex of store ip + i32 port + i64 physical offset.
pub fn offset_msg_id(store_host: &SocketAddr, physical_offset: i64) -> String {
    let mut b = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => b.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => b.extend_from_slice(&ip.octets()),
    }
    b.extend_from_slice(&(store_host.port() as i32).to_be_bytes());
    b.extend_from_slice(&physical_offset.to_be_bytes());
    hex_upper(&b)
}

/// Decodes an `offsetMsgId` into the broker address and physical offset.
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, i64)> {
    let b = unhex(id)?;
    let (ip, rest): (IpAddr, &[u8]) = match b.len() {
        16 => (IpAddr::from(<[u8; 4]>::try_from(&b[..4]).ok()?), &b[4..]),
        28 => (IpAddr::from(<[u8; 16]>::try_from(&b[..16]).ok()?), &b[16..]),
        _ => return None,
    };
    let port = i32::from_be_bytes(rest[..4].try_into().ok()?);
    let offset = i64::from_be_bytes(rest[4..12].try_into().ok()?);
    if !(0..=65535).contains(&port) {
        return None;
    }
    Some((SocketAddr::new(ip, port as u16), offset))
}

/// Generates `UNIQ_KEY`s in Java's layout: ip(4) + pid(2) + random(4) + ms since month start(4) + counter(2).
pub struct UniqueIdGenerator {
    prefix: String,
    counter: AtomicU32,
}

impl UniqueIdGenerator {
    pub fn new(ip: IpAddr) -> Self {
        let mut b = Vec::with_capacity(10);
        match ip {
            IpAddr::V4(v4) => b.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => b.extend_from_slice(&v6.octets()),
        }
        b.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seed = (now.as_nanos() as u32)
            ^ (std::process::id().rotate_left(16))
            ^ (&b as *const _ as usize as u32);
        b.extend_from_slice(&seed.to_be_bytes());
        UniqueIdGenerator {
            prefix: hex_upper(&b),
            counter: AtomicU32::new(0),
        }
    }

    /// The process-wide generator.
    pub fn global() -> &'static UniqueIdGenerator {
        static G: OnceLock<UniqueIdGenerator> = OnceLock::new();
        G.get_or_init(|| UniqueIdGenerator::new(crate::protocol::local_ip()))
    }

    pub fn next_id(&self) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        // Milliseconds within a 31-day window stand in for "since the start of the month": only
        // uniqueness matters to peers.
        let window = (now_ms % (31 * 24 * 3600 * 1000)) as u32;
        let c = self.counter.fetch_add(1, Ordering::Relaxed);
        // The counter's high bits go into the time word so ids stay unique past 65536 per ms.
        let mut tail = [0u8; 6];
        tail[..4].copy_from_slice(&(window ^ ((c >> 16) << 28)).to_be_bytes());
        tail[4..].copy_from_slice(&(c as u16).to_be_bytes());
        let mut s = self.prefix.clone();
        s.push_str(&hex_upper(&tail));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn offset_id_round_trips() {
        let a: SocketAddr = "192.168.1.10:10911".parse().unwrap();
        let id = offset_msg_id(&a, 0x0012_3456_789A);
        assert_eq!(id.len(), 32);
        assert_eq!(id, id.to_uppercase());
        assert_eq!(decode_offset_msg_id(&id), Some((a, 0x0012_3456_789A)));
        let b: SocketAddr = "[::1]:10911".parse().unwrap();
        let id6 = offset_msg_id(&b, 5);
        assert_eq!(id6.len(), 56);
        assert_eq!(decode_offset_msg_id(&id6), Some((b, 5)));
        assert_eq!(decode_offset_msg_id("XYZ"), None);
        assert_eq!(decode_offset_msg_id(""), None);
    }

    #[test]
    fn unique_ids_are_unique_and_32_hex() {
        let g = UniqueIdGenerator::new("10.1.2.3".parse().unwrap());
        let ids: HashSet<String> = (0..200_000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 200_000);
        assert!(ids
            .iter()
            .all(|i| i.len() == 32 && i.chars().all(|c| c.is_ascii_hexdigit())));
    }
}
