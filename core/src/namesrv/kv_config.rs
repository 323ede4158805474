//! The name server's key/value configuration: namespaces of string pairs that admin tools put
//! and clients read (the `ORDER_TOPIC_CONFIG` namespace holds `broker-a:4;broker-b:4` per ordered
//! topic). Persisted to `kvConfig.json` only when a path is configured.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::protocol::bodies::KvTable;
use crate::protocol::json::from_fastjson;

/// Namespace whose entries give ordered topics their queue layout (`NamesrvUtil` in Java).
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// The on-disk shape, `{"configTable":{namespace:{key:value}}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvConfigFile {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

/// Namespaced key/value pairs, optionally persisted.
#[derive(Debug, Default)]
pub struct KvConfigManager {
    path: Option<PathBuf>,
    table: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

impl KvConfigManager {
    /// An in-memory manager, or one loaded from `path` (a missing file is an empty table; a
    /// broken one falls back to its `.bak` copy).
    pub fn open(path: Option<PathBuf>) -> io::Result<Self> {
        let table = match &path {
            Some(p) => load(p)?,
            None => BTreeMap::new(),
        };
        Ok(KvConfigManager {
            path,
            table: RwLock::new(table),
        })
    }

    pub fn put(&self, namespace: &str, key: &str, value: &str) -> io::Result<()> {
        let mut table = self.table.write().unwrap();
        table
            .entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        self.persist(&table)
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.read().unwrap().get(namespace)?.get(key).cloned()
    }

    /// Removes one key; a namespace left empty is removed too.
    pub fn delete(&self, namespace: &str, key: &str) -> io::Result<()> {
        let mut table = self.table.write().unwrap();
        let Some(ns) = table.get_mut(namespace) else {
            return Ok(());
        };
        if ns.remove(key).is_none() {
            return Ok(());
        }
        if ns.is_empty() {
            table.remove(namespace);
        }
        self.persist(&table)
    }

    /// Every pair of a namespace, or `None` when the namespace is unknown.
    pub fn list(&self, namespace: &str) -> Option<KvTable> {
        let table = self.table.read().unwrap();
        let ns = table.get(namespace)?;
        Some(KvTable {
            table: ns
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        })
    }

    /// Writes the whole table, called with the write lock held so writes reach disk in order.
    fn persist(&self, table: &BTreeMap<String, BTreeMap<String, String>>) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = KvConfigFile {
            config_table: table.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
        write_atomically(path, &json)
    }
}

fn load(path: &Path) -> io::Result<BTreeMap<String, BTreeMap<String, String>>> {
    for candidate in [path.to_path_buf(), with_suffix(path, ".bak")] {
        match fs::read(&candidate) {
            Ok(bytes) if bytes.iter().any(|b| !b.is_ascii_whitespace()) => {
                match from_fastjson::<KvConfigFile>(&bytes) {
                    Ok(file) => return Ok(file.config_table),
                    Err(e) => tracing::warn!(path = %candidate.display(), error = %e,
                        "unreadable kv config, trying its backup"),
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(BTreeMap::new())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `path.tmp`, keeps the previous content as `path.bak`, then renames into place, so a
/// crash at any point leaves a readable file or backup.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if path.exists() {
        fs::copy(path, with_suffix(path, ".bak"))?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable only once the directory entry is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_list_in_memory() {
        let kv = KvConfigManager::open(None).unwrap();
        kv.put("ns", "k", "v").unwrap();
        assert_eq!(kv.get("ns", "k").as_deref(), Some("v"));
        assert_eq!(kv.list("ns").unwrap().table["k"], "v");
        kv.delete("ns", "k").unwrap();
        assert!(kv.get("ns", "k").is_none());
        assert!(kv.list("ns").is_none(), "empty namespace disappears");
    }

    #[test]
    fn persists_and_reloads_and_falls_back_to_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let kv = KvConfigManager::open(Some(path.clone())).unwrap();
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "T", "broker-a:4")
            .unwrap();
        kv.put("ns", "k", "v").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"configTable\""), "{text}");

        let again = KvConfigManager::open(Some(path.clone())).unwrap();
        assert_eq!(again.get("ns", "k").as_deref(), Some("v"));

        fs::write(&path, b"{broken").unwrap();
        let from_bak = KvConfigManager::open(Some(path.clone())).unwrap();
        assert_eq!(
            from_bak.get(NAMESPACE_ORDER_TOPIC_CONFIG, "T").as_deref(),
            Some("broker-a:4")
        );
    }

    #[test]
    fn reads_java_pretty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kvConfig.json");
        fs::write(
            &path,
            "{\n\t\"configTable\":{\n\t\t\"ORDER_TOPIC_CONFIG\":{\n\t\t\t\"TopicA\":\"broker-a:4\"\n\t\t}\n\t}\n}",
        )
        .unwrap();
        let kv = KvConfigManager::open(Some(path)).unwrap();
        assert_eq!(
            kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, "TopicA").as_deref(),
            Some("broker-a:4")
        );
    }
}
