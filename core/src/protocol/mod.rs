//! The RocketMQ 4.x wire: frames, headers, codes, message encodings, ids and JSON bodies.
//! No I/O and no async runtime here.

pub mod bodies;
pub mod codes;
pub mod command;
pub mod header;
pub mod ids;
pub mod json;
mod json_header;
pub mod limits;
pub mod message;

pub use codes::{request as request_code, response as response_code};
pub use command::{DecodeError, LanguageCode, RemotingCommand, SerializeType};

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// This host's outward IPv4 address (no packet is sent: a UDP connect only picks a route),
/// falling back to loopback.
pub fn local_ip() -> IpAddr {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
