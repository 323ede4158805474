//! What every client (producer or consumer) is configured with, and the client id built from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::acl::Credentials;
use super::error::{ClientError, Result};

/// Default time a request to a broker or name server may take (Java `mqClientApiTimeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Route refresh period (`pollNameServerInterval`).
pub const ROUTE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Heartbeat period (`heartbeatBrokerInterval`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Instance name that is replaced by `<pid>#<nanos>` so that clients in one process differ.
pub const DEFAULT_INSTANCE_NAME: &str = "DEFAULT";

/// Settings shared by producers and consumers.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Name servers, `host:port;host:port`.
    pub namesrv_addr: String,
    /// Local IP announced in the client id; detected when empty.
    pub client_ip: String,
    /// `DEFAULT` is replaced by `<pid>#<nanos>` at start.
    pub instance_name: String,
    /// Appended to the client id when set (`ip@instance@unit`).
    pub unit_name: Option<String>,
    /// Namespace: topics and groups are sent as `<namespace>%<name>`.
    pub namespace: Option<String>,
    /// ACL credentials added to every request when set.
    pub credentials: Option<Credentials>,
    /// Budget of one request to a broker or name server (not of a whole send with retries).
    pub request_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub route_refresh_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            namesrv_addr: std::env::var("NAMESRV_ADDR").unwrap_or_default(),
            client_ip: String::new(),
            instance_name: DEFAULT_INSTANCE_NAME.to_string(),
            unit_name: None,
            namespace: None,
            credentials: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            heartbeat_interval: HEARTBEAT_INTERVAL,
            route_refresh_interval: ROUTE_REFRESH_INTERVAL,
        }
    }
}

impl ClientConfig {
    pub fn new(namesrv_addr: &str) -> Self {
        ClientConfig {
            namesrv_addr: namesrv_addr.to_string(),
            ..Default::default()
        }
    }

    /// The name server addresses, validated.
    pub fn namesrv_list(&self) -> Result<Vec<String>> {
        let list: Vec<String> = self
            .namesrv_addr
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() {
            return Err(ClientError::illegal(
                "no name server address: set namesrv_addr to 'host:port;host:port' \
                 (or the NAMESRV_ADDR environment variable)",
            ));
        }
        for a in &list {
            let ok = a
                .rsplit_once(':')
                .map(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                .unwrap_or(false);
            if !ok {
                return Err(ClientError::illegal(format!(
                    "name server address '{a}' is not host:port"
                )));
            }
        }
        Ok(list)
    }

    /// The instance name actually used: `DEFAULT` becomes `<pid>#<nanos>`, unique per client.
    pub fn effective_instance_name(&self) -> String {
        if self.instance_name.is_empty() || self.instance_name == DEFAULT_INSTANCE_NAME {
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            // The sequence keeps two clients created in the same nanosecond apart.
            format!(
                "{}#{}",
                std::process::id(),
                nanos.wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed))
            )
        } else {
            self.instance_name.clone()
        }
    }

    /// `ip@instance[@unit]`, as Java builds it.
    pub fn build_client_id(&self, instance_name: &str) -> String {
        let ip = if self.client_ip.is_empty() {
            crate::protocol::local_ip().to_string()
        } else {
            self.client_ip.clone()
        };
        client_id(&ip, instance_name, self.unit_name.as_deref())
    }

    /// `name` inside the namespace (`ns%name`); retry/DLQ prefixes stay in front.
    pub fn wrap(&self, name: &str) -> String {
        wrap_namespace(self.namespace.as_deref(), name)
    }

    /// `name` without the namespace.
    pub fn unwrap(&self, name: &str) -> String {
        unwrap_namespace(self.namespace.as_deref(), name)
    }
}

pub fn client_id(ip: &str, instance_name: &str, unit_name: Option<&str>) -> String {
    match unit_name {
        Some(u) if !u.is_empty() => format!("{ip}@{instance_name}@{u}"),
        _ => format!("{ip}@{instance_name}"),
    }
}

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";

pub fn wrap_namespace(ns: Option<&str>, name: &str) -> String {
    let ns = match ns {
        Some(ns) if !ns.is_empty() => ns,
        _ => return name.to_string(),
    };
    for prefix in [RETRY_PREFIX, DLQ_PREFIX] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return format!("{prefix}{}", wrap_namespace(Some(ns), rest));
        }
    }
    if name.starts_with(&format!("{ns}%")) || is_system_topic(name) {
        name.to_string()
    } else {
        format!("{ns}%{name}")
    }
}

pub fn unwrap_namespace(ns: Option<&str>, name: &str) -> String {
    let ns = match ns {
        Some(ns) if !ns.is_empty() => ns,
        _ => return name.to_string(),
    };
    for prefix in [RETRY_PREFIX, DLQ_PREFIX] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return format!("{prefix}{}", unwrap_namespace(Some(ns), rest));
        }
    }
    name.strip_prefix(&format!("{ns}%"))
        .unwrap_or(name)
        .to_string()
}

/// Topics the broker owns; producers may not send to them.
pub const FORBIDDEN_SEND_TOPICS: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

pub fn is_system_topic(t: &str) -> bool {
    FORBIDDEN_SEND_TOPICS.contains(&t)
        || matches!(t, "TBW102" | "BenchmarkTest" | "RMQ_SYS_TRACE_TOPIC")
}

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

pub fn is_retry_topic(t: &str) -> bool {
    t.starts_with(RETRY_PREFIX)
}

/// Java's topic check: non-empty, ≤ 127 bytes, characters `[%|a-zA-Z0-9_-]`.
pub fn check_topic(topic: &str) -> Result<()> {
    if topic.trim().is_empty() {
        return Err(ClientError::illegal("the topic name is empty"));
    }
    if topic.len() > crate::protocol::limits::TOPIC_MAX_BYTES {
        return Err(ClientError::illegal(format!(
            "the topic name '{topic}' is {} bytes long; the limit is {}",
            topic.len(),
            crate::protocol::limits::TOPIC_MAX_BYTES
        )));
    }
    if let Some(c) = topic.chars().find(|c| !valid_name_char(*c)) {
        return Err(ClientError::illegal(format!(
            "the topic name '{topic}' contains '{c}'; only letters, digits, '%', '|', '_' and '-' \
             are allowed"
        )));
    }
    Ok(())
}

/// Java's group check: non-empty, ≤ 255 bytes, same characters as topics.
pub fn check_group(group: &str) -> Result<()> {
    if group.trim().is_empty() {
        return Err(ClientError::illegal("the group name is empty; set a group"));
    }
    if group.len() > crate::protocol::limits::GROUP_MAX_BYTES {
        return Err(ClientError::illegal(format!(
            "the group name is {} bytes long; the limit is {}",
            group.len(),
            crate::protocol::limits::GROUP_MAX_BYTES
        )));
    }
    if let Some(c) = group.chars().find(|c| !valid_name_char(*c)) {
        return Err(ClientError::illegal(format!(
            "the group name '{group}' contains '{c}'; only letters, digits, '%', '|', '_' and '-' \
             are allowed"
        )));
    }
    Ok(())
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')
}

/// A tiny xorshift generator for queue choice and jitter (no cryptographic use).
pub(crate) fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9E37_79B9_7F4A_7C15);
            let addr = &t as *const u64 as u64;
            (t ^ addr.rotate_left(32) ^ std::process::id() as u64) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_shapes() {
        assert_eq!(client_id("10.0.0.1", "inst", None), "10.0.0.1@inst");
        assert_eq!(
            client_id("10.0.0.1", "inst", Some("u1")),
            "10.0.0.1@inst@u1"
        );
        let cfg = ClientConfig {
            client_ip: "10.0.0.1".into(),
            ..ClientConfig::new("127.0.0.1:9876")
        };
        let a = cfg.effective_instance_name();
        let b = cfg.effective_instance_name();
        assert_ne!(a, b, "default instance names are unique per client");
        assert!(a.starts_with(&format!("{}#", std::process::id())));
        assert!(cfg.build_client_id(&a).starts_with("10.0.0.1@"));
        let named = ClientConfig {
            instance_name: "orders".into(),
            ..cfg
        };
        assert_eq!(named.effective_instance_name(), "orders");
    }

    #[test]
    fn namesrv_list_parses_and_rejects() {
        let c = ClientConfig::new("a:9876; b:9877;");
        assert_eq!(c.namesrv_list().unwrap(), vec!["a:9876", "b:9877"]);
        assert!(ClientConfig::new("").namesrv_list().is_err());
        assert!(ClientConfig::new("nohost").namesrv_list().is_err());
    }

    #[test]
    fn namespace_wrapping() {
        let ns = Some("ns1");
        assert_eq!(wrap_namespace(ns, "T"), "ns1%T");
        assert_eq!(wrap_namespace(ns, "ns1%T"), "ns1%T");
        assert_eq!(wrap_namespace(ns, "%RETRY%g"), "%RETRY%ns1%g");
        assert_eq!(wrap_namespace(None, "T"), "T");
        assert_eq!(unwrap_namespace(ns, "%RETRY%ns1%g"), "%RETRY%g");
        assert_eq!(unwrap_namespace(ns, "ns1%T"), "T");
    }

    #[test]
    fn topic_and_group_checks() {
        assert!(check_topic("Topic_A-1%|").is_ok());
        assert!(check_topic("").is_err());
        assert!(check_topic("bad topic")
            .unwrap_err()
            .to_string()
            .contains("' '"));
        assert!(check_topic(&"x".repeat(128)).is_err());
        assert!(check_group("g").is_ok());
        assert!(check_group("").is_err());
    }
}
