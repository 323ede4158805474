//! Committed consumer offsets per `topic@group` and queue (`config/consumerOffset.json`),
//! persisted every `flushConsumerOffsetInterval` and at shutdown.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::store::{load_config_file, persist_config_file};

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OffsetFile {
    offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

pub struct ConsumerOffsetManager {
    path: PathBuf,
    /// key `topic@group` → queue id → next offset to consume.
    table: RwLock<HashMap<String, HashMap<i32, i64>>>,
    dirty: AtomicBool,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetManager {
    pub fn load(path: PathBuf) -> std::io::Result<Self> {
        let mut table = HashMap::new();
        if let Some(text) = load_config_file(&path)? {
            match crate::protocol::json::from_fastjson::<OffsetFile>(text.as_bytes()) {
                Ok(f) => {
                    table = f
                        .offset_table
                        .into_iter()
                        .map(|(k, v)| (k, v.into_iter().collect()))
                        .collect();
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "consumerOffset.json unreadable")
                }
            }
        }
        Ok(ConsumerOffsetManager {
            path,
            table: RwLock::new(table),
            dirty: AtomicBool::new(false),
        })
    }

    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table
            .write()
            .unwrap()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .read()
            .unwrap()
            .get(&key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
    }

    /// Every queue's committed offset of a group on a topic.
    pub fn group_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        self.table
            .read()
            .unwrap()
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// Topics a group has offsets for.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        self.table
            .read()
            .unwrap()
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix).map(str::to_string))
            .collect()
    }

    /// Groups with offsets on a topic.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let prefix = format!("{topic}@");
        self.table
            .read()
            .unwrap()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table
            .write()
            .unwrap()
            .retain(|k, _| !k.starts_with(&prefix));
        self.dirty.store(true, Ordering::Release);
    }

    pub fn to_json(&self) -> String {
        let t = self.table.read().unwrap();
        let f = OffsetFile {
            offset_table: t
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|(q, o)| (*q, *o)).collect()))
                .collect(),
        };
        serde_json::to_string_pretty(&f).expect("offsets serialize")
    }

    /// Writes the file if anything changed since the last write.
    pub fn persist(&self) {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Err(e) = persist_config_file(&self.path, &self.to_json()) {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(path = %self.path.display(), error = %e, "persisting consumerOffset.json failed");
        }
    }
}
