//! The broker's topics: system topics, auto-creation from TBW102, and `config/topics.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use crate::protocol::bodies::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, PERM_INHERIT, PERM_READ, PERM_WRITE,
};
use crate::store::{load_config_file, persist_config_file};

pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

/// Topics no producer may send to.
pub fn is_send_forbidden(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

/// Checks a topic name: `[%|a-zA-Z0-9_-]`, 1..=127 bytes.
pub fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("the specified topic is blank".into());
    }
    if topic.len() > crate::protocol::limits::TOPIC_MAX_BYTES {
        return Err(format!(
            "the specified topic is longer than topic max length {}",
            crate::protocol::limits::TOPIC_MAX_BYTES
        ));
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!("the specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"));
    }
    Ok(())
}

pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

struct Table {
    topics: BTreeMap<String, TopicConfig>,
    data_version: DataVersion,
}

pub struct TopicConfigManager {
    path: PathBuf,
    table: RwLock<Table>,
    system: Vec<String>,
}

impl TopicConfigManager {
    /// Loads `topics.json` and adds the system topics the broker always has.
    pub fn load(
        path: PathBuf,
        cluster_name: &str,
        broker_name: &str,
        auto_create_topic_enable: bool,
        default_topic_queue_nums: i32,
        delay_levels: i32,
    ) -> std::io::Result<Self> {
        let mut topics = BTreeMap::new();
        let mut data_version = DataVersion::default();
        if let Some(text) = load_config_file(&path)? {
            match crate::protocol::json::from_fastjson::<TopicConfigSerializeWrapper>(
                text.as_bytes(),
            ) {
                Ok(w) => {
                    topics = w.topic_config_table;
                    data_version = w.data_version;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "topics.json unreadable; starting without it")
                }
            }
        }
        let rw = PERM_READ | PERM_WRITE;
        let mut system = vec![
            (SELF_TEST_TOPIC.to_string(), 1, rw),
            (BENCHMARK_TOPIC.to_string(), 1024, rw),
            (cluster_name.to_string(), 16, rw | PERM_INHERIT),
            (broker_name.to_string(), 1, rw | PERM_INHERIT),
            (OFFSET_MOVED_EVENT.to_string(), 1, rw),
            (SCHEDULE_TOPIC.to_string(), delay_levels, rw),
            (TRANS_HALF_TOPIC.to_string(), 1, rw),
            (TRANS_OP_HALF_TOPIC.to_string(), 1, rw),
            (TRANS_CHECK_MAX_TIME_TOPIC.to_string(), 1, rw),
            (super::timer::TIMER_TOPIC.to_string(), 1, rw),
            (crate::protocol::message::reply_topic(cluster_name), 1, rw),
        ];
        if auto_create_topic_enable {
            system.push((
                AUTO_CREATE_TOPIC_KEY.to_string(),
                default_topic_queue_nums,
                rw | PERM_INHERIT,
            ));
        } else {
            topics.remove(AUTO_CREATE_TOPIC_KEY);
        }
        for (name, q, perm) in &system {
            topics
                .entry(name.clone())
                .or_insert_with(|| TopicConfig::new(name, *q, *perm));
        }
        Ok(TopicConfigManager {
            path,
            table: RwLock::new(Table {
                topics,
                data_version,
            }),
            system: system.into_iter().map(|(n, _, _)| n).collect(),
        })
    }

    pub fn is_system_topic(&self, topic: &str) -> bool {
        self.system.iter().any(|t| t == topic)
    }

    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.table.read().unwrap().topics.get(topic).cloned()
    }

    pub fn all(&self) -> TopicConfigSerializeWrapper {
        let t = self.table.read().unwrap();
        TopicConfigSerializeWrapper {
            topic_config_table: t.topics.clone(),
            data_version: t.data_version.clone(),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.table.read().unwrap().topics.keys().cloned().collect()
    }

    /// Creates or replaces a topic; returns whether anything changed.
    pub fn upsert(&self, config: TopicConfig) -> bool {
        {
            let mut t = self.table.write().unwrap();
            if t.topics.get(&config.topic_name) == Some(&config) {
                return false;
            }
            t.topics.insert(config.topic_name.clone(), config);
            t.data_version.bump();
        }
        self.persist();
        true
    }

    /// Creates `topic` from a template topic on first send (`autoCreateTopicEnable`).
    pub fn create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        requested_queues: i32,
    ) -> Option<TopicConfig> {
        if let Some(t) = self.get(topic) {
            return Some(t);
        }
        let template = self.get(default_topic)?;
        if template.perm & PERM_INHERIT == 0 {
            return None;
        }
        let queues = requested_queues.clamp(1, template.write_queue_nums.max(1));
        let cfg = TopicConfig {
            topic_name: topic.to_string(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: template.perm & !PERM_INHERIT,
            topic_sys_flag: 0,
            ..Default::default()
        };
        tracing::info!(topic, queues, "auto-created topic");
        self.upsert(cfg.clone());
        Some(cfg)
    }

    /// Makes sure an internal topic (retry, DLQ) exists with this many queues and perm.
    pub fn ensure(&self, topic: &str, queues: i32, perm: i32) -> (TopicConfig, bool) {
        if let Some(t) = self.get(topic) {
            return (t, false);
        }
        let cfg = TopicConfig::new(topic, queues, perm);
        let created = self.upsert(cfg.clone());
        (cfg, created)
    }

    pub fn delete(&self, topic: &str) -> bool {
        let removed = {
            let mut t = self.table.write().unwrap();
            let r = t.topics.remove(topic).is_some();
            if r {
                t.data_version.bump();
            }
            r
        };
        if removed {
            self.persist();
        }
        removed
    }

    pub fn persist(&self) {
        let json = {
            let t = self.table.read().unwrap();
            let w = TopicConfigSerializeWrapper {
                topic_config_table: t.topics.clone(),
                data_version: t.data_version.clone(),
            };
            serde_json::to_string_pretty(&w).expect("topics serialize")
        };
        if let Err(e) = persist_config_file(&self.path, &json) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting topics.json failed");
        }
    }
}
