//! Consumer groups' settings (`config/subscriptionGroup.json`), auto-created on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::protocol::bodies::{DataVersion, SubscriptionGroupConfig};
use crate::store::{load_config_file, persist_config_file};

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    pub data_version: DataVersion,
}

pub struct SubscriptionGroupManager {
    path: PathBuf,
    table: RwLock<SubscriptionGroupWrapper>,
    auto_create: bool,
}

impl SubscriptionGroupManager {
    pub fn load(path: PathBuf, auto_create: bool) -> std::io::Result<Self> {
        let mut w = SubscriptionGroupWrapper::default();
        if let Some(text) = load_config_file(&path)? {
            match crate::protocol::json::from_fastjson(text.as_bytes()) {
                Ok(v) => w = v,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "subscriptionGroup.json unreadable")
                }
            }
        }
        Ok(SubscriptionGroupManager {
            path,
            table: RwLock::new(w),
            auto_create,
        })
    }

    /// The group's config, creating a default one when auto-creation is on.
    pub fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        if let Some(g) = self
            .table
            .read()
            .unwrap()
            .subscription_group_table
            .get(group)
        {
            return Some(g.clone());
        }
        if !self.auto_create {
            return None;
        }
        let cfg = SubscriptionGroupConfig {
            group_name: group.to_string(),
            ..Default::default()
        };
        self.upsert(cfg.clone());
        Some(cfg)
    }

    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.table
            .read()
            .unwrap()
            .subscription_group_table
            .get(group)
            .cloned()
    }

    pub fn upsert(&self, cfg: SubscriptionGroupConfig) {
        {
            let mut t = self.table.write().unwrap();
            t.subscription_group_table
                .insert(cfg.group_name.clone(), cfg);
            t.data_version.bump();
        }
        self.persist();
    }

    pub fn delete(&self, group: &str) {
        let removed = self
            .table
            .write()
            .unwrap()
            .subscription_group_table
            .remove(group)
            .is_some();
        if removed {
            self.persist();
        }
    }

    pub fn all_json(&self) -> String {
        serde_json::to_string(&*self.table.read().unwrap()).expect("groups serialize")
    }

    fn persist(&self) {
        let json =
            serde_json::to_string_pretty(&*self.table.read().unwrap()).expect("groups serialize");
        if let Err(e) = persist_config_file(&self.path, &json) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting subscriptionGroup.json failed");
        }
    }
}
