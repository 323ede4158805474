//! Broker settings, read from RocketMQ's `broker.conf` (Java properties format) with its keys.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::store::{FlushDiskType, StoreConfig};

/// Everything a broker is configured with. Field comments name the `broker.conf` key.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// brokerClusterName
    pub cluster_name: String,
    /// brokerName
    pub broker_name: String,
    /// brokerId (0 = master)
    pub broker_id: i64,
    /// namesrvAddr: `host:port;host:port`
    pub namesrv_addr: Option<String>,
    /// brokerIP1: the address registered with name servers and written as store host.
    pub broker_ip: Option<IpAddr>,
    /// listenPort (0 picks a free port)
    pub listen_port: u16,
    /// Address to bind; 0.0.0.0 by default.
    pub listen_ip: IpAddr,
    /// autoCreateTopicEnable
    pub auto_create_topic_enable: bool,
    /// autoCreateSubscriptionGroup
    pub auto_create_subscription_group: bool,
    /// defaultTopicQueueNums
    pub default_topic_queue_nums: i32,
    /// brokerPermission
    pub broker_permission: i32,
    /// brokerRole: ASYNC_MASTER, SYNC_MASTER or SLAVE
    pub broker_role: String,
    /// registerNameServerPeriod in ms (clamped to 10 s..60 s as RocketMQ does)
    pub register_name_server_period_ms: u64,
    /// messageDelayLevel
    pub message_delay_level: String,
    /// enablePropertyFilter
    pub enable_property_filter: bool,
    /// transactionTimeOut (ms), transactionCheckInterval (ms), transactionCheckMax
    pub transaction_timeout_ms: i64,
    pub transaction_check_interval_ms: u64,
    pub transaction_check_max: i32,
    /// timerMaxDelaySec: the furthest future an arbitrary delivery time may name.
    pub timer_max_delay_sec: i64,
    /// Silent clients are forgotten after this long.
    pub channel_expired_timeout_ms: u64,
    /// flushConsumerOffsetInterval (ms)
    pub flush_consumer_offset_interval_ms: u64,
    /// longPollingEnable
    pub long_polling_enable: bool,
    /// regionId
    pub region_id: String,
    /// traceOn
    pub trace_on: bool,
    pub store: StoreConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            namesrv_addr: None,
            broker_ip: None,
            listen_port: 10911,
            listen_ip: IpAddr::from([0, 0, 0, 0]),
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            broker_permission: 6,
            broker_role: "ASYNC_MASTER".into(),
            register_name_server_period_ms: 30_000,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .into(),
            enable_property_filter: false,
            transaction_timeout_ms: 6_000,
            transaction_check_interval_ms: 60_000,
            transaction_check_max: 15,
            timer_max_delay_sec: 3 * 24 * 3600,
            channel_expired_timeout_ms: 120_000,
            flush_consumer_offset_interval_ms: 5_000,
            long_polling_enable: true,
            region_id: "DefaultRegion".into(),
            trace_on: true,
            store: StoreConfig::default(),
        }
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("broker.conf: {key}={v} is not true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("broker.conf: {key}={v} is not a valid number"))
}

/// Parses Java properties text into key/value pairs (`#`/`!` comments, `=` or `:` separators,
/// line continuations with a trailing backslash).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']).unwrap_or(entry.len());
        let key = entry[..split].trim().to_string();
        let value = entry.get(split + 1..).unwrap_or("").trim().to_string();
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

impl BrokerConfig {
    /// Applies `broker.conf` text. Unknown keys are returned as warnings; bad values are errors.
    pub fn apply_properties(&mut self, text: &str) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        for (k, v) in parse_properties(text) {
            self.apply(&k, &v, &mut warnings)?;
        }
        Ok(warnings)
    }

    fn apply(&mut self, k: &str, v: &str, warnings: &mut Vec<String>) -> Result<(), String> {
        match k {
            "brokerClusterName" => self.cluster_name = v.to_string(),
            "brokerName" => self.broker_name = v.to_string(),
            "brokerId" => self.broker_id = parse_num(k, v)?,
            "namesrvAddr" => self.namesrv_addr = Some(v.to_string()).filter(|s| !s.is_empty()),
            "brokerIP1" => {
                self.broker_ip = Some(
                    v.parse()
                        .map_err(|_| format!("broker.conf: brokerIP1={v} is not an IP address"))?,
                )
            }
            "brokerIP2" | "haListenPort" | "storePathIndex" | "storeCheckpoint" | "abortFile" => {}
            "listenPort" => self.listen_port = parse_num(k, v)?,
            "storePathRootDir" => self.store.root_dir = PathBuf::from(v),
            "storePathCommitLog" => self.store.commit_log_dir = Some(PathBuf::from(v)),
            "autoCreateTopicEnable" => self.auto_create_topic_enable = parse_bool(k, v)?,
            "autoCreateSubscriptionGroup" => {
                self.auto_create_subscription_group = parse_bool(k, v)?
            }
            "defaultTopicQueueNums" => {
                self.default_topic_queue_nums = positive(k, parse_num(k, v)?)?
            }
            "brokerPermission" => self.broker_permission = parse_num(k, v)?,
            "maxMessageSize" => self.store.max_message_size_bytes = positive(k, parse_num(k, v)?)?,
            "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
                self.store.commit_log_file_size_bytes = positive(k, parse_num(k, v)?)?
            }
            "mapedFileSizeConsumeQueue" | "mappedFileSizeConsumeQueue" => {
                let n: u64 = positive(k, parse_num(k, v)?)?;
                // Whole 20-byte entries, as RocketMQ rounds it.
                self.store.consume_queue_file_size_bytes = n.div_ceil(20) * 20;
            }
            "flushDiskType" => {
                self.store.flush_disk_type = match v {
                    "ASYNC_FLUSH" => FlushDiskType::AsyncFlush,
                    "SYNC_FLUSH" => FlushDiskType::SyncFlush,
                    _ => {
                        return Err(format!(
                            "broker.conf: flushDiskType={v} is neither ASYNC_FLUSH nor SYNC_FLUSH"
                        ))
                    }
                }
            }
            "flushIntervalCommitLog" => self.store.flush_interval_commit_log_ms = parse_num(k, v)?,
            "flushCommitLogLeastPages" => {
                self.store.flush_commit_log_least_pages = parse_num(k, v)?
            }
            "flushCommitLogThoroughInterval" => {
                self.store.flush_commit_log_thorough_interval_ms = parse_num(k, v)?
            }
            "syncFlushTimeout" => self.store.sync_flush_timeout_ms = parse_num(k, v)?,
            "brokerRole" => match v {
                "ASYNC_MASTER" | "SYNC_MASTER" | "SLAVE" => self.broker_role = v.to_string(),
                _ => {
                    return Err(format!(
                        "broker.conf: brokerRole={v} is not ASYNC_MASTER, SYNC_MASTER or SLAVE"
                    ))
                }
            },
            "deleteWhen" => {
                for h in v.split(';') {
                    let hour: u32 = parse_num(k, h.trim())?;
                    if hour > 23 {
                        return Err(format!("broker.conf: deleteWhen={v} has an hour past 23"));
                    }
                }
                self.store.delete_when = v.to_string();
            }
            "fileReservedTime" => self.store.file_reserved_time_hours = parse_num(k, v)?,
            "diskMaxUsedSpaceRatio" => {
                let r: u32 = parse_num(k, v)?;
                if !(10..=95).contains(&r) {
                    return Err(format!(
                        "broker.conf: diskMaxUsedSpaceRatio={v} must be within 10..95"
                    ));
                }
                self.store.disk_max_used_space_ratio_percent = r;
            }
            "messageDelayLevel" => {
                crate::broker::schedule::parse_delay_levels(v)?;
                self.message_delay_level = v.to_string();
            }
            "enablePropertyFilter" => self.enable_property_filter = parse_bool(k, v)?,
            "checkCRCOnRecover" => self.store.check_crc_on_recover = parse_bool(k, v)?,
            "transactionTimeOut" => self.transaction_timeout_ms = parse_num(k, v)?,
            "transactionCheckInterval" => self.transaction_check_interval_ms = parse_num(k, v)?,
            "transactionCheckMax" => self.transaction_check_max = parse_num(k, v)?,
            "timerMaxDelaySec" => self.timer_max_delay_sec = positive(k, parse_num(k, v)?)?,
            "registerNameServerPeriod" => {
                self.register_name_server_period_ms = parse_num::<u64>(k, v)?.clamp(10_000, 60_000)
            }
            "flushConsumerOffsetInterval" => {
                self.flush_consumer_offset_interval_ms = parse_num(k, v)?
            }
            "longPollingEnable" => self.long_polling_enable = parse_bool(k, v)?,
            "regionId" => self.region_id = v.to_string(),
            "traceOn" => self.trace_on = parse_bool(k, v)?,
            _ => warnings.push(format!("broker.conf: unknown key '{k}' ignored")),
        }
        Ok(())
    }
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(k: &str, n: T) -> Result<T, String> {
    if n > T::default() {
        Ok(n)
    } else {
        Err(format!("broker.conf: {k}={n} must be positive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_familiar_keys_and_warns_on_unknown() {
        let text =
            "# comment\nbrokerClusterName = C1\nbrokerName=b1\nbrokerId=0\nlistenPort:10921\n\
                    flushDiskType=SYNC_FLUSH\nmaxMessageSize=1024\nfoo=bar\ndeleteWhen=04;05\n\
                    namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\nmapedFileSizeConsumeQueue=30\n";
        let mut c = BrokerConfig::default();
        let w = c.apply_properties(text).unwrap();
        assert_eq!(c.cluster_name, "C1");
        assert_eq!(c.listen_port, 10921);
        assert_eq!(c.store.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.store.max_message_size_bytes, 1024);
        assert_eq!(c.store.consume_queue_file_size_bytes, 40);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("foo"));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for bad in [
            "listenPort=abc",
            "flushDiskType=SOMETIMES",
            "autoCreateTopicEnable=yes",
            "deleteWhen=25",
            "brokerIP1=nope",
            "messageDelayLevel=1x",
        ] {
            let e = BrokerConfig::default().apply_properties(bad).unwrap_err();
            assert!(e.contains(bad.split('=').next().unwrap()), "{e}");
        }
    }
}
