//! Consumer offsets ("next offset to consume" per queue): on the broker for clustering, in a local
//! file for broadcasting. Both keep a table in memory that pulls and consumption update.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{ClientError, Result};
use super::instance::ClientInstance;
use crate::protocol::bodies::MessageQueue;
use crate::protocol::{request_code, response_code, RemotingCommand};

/// Where `read` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOffsetType {
    /// Only the in-memory table.
    Memory,
    /// Only the store (broker or file), refreshing memory.
    Store,
    /// Memory, falling back to the store.
    MemoryThenStore,
}

/// Offset answered when nothing is stored for a queue.
pub const OFFSET_NOT_FOUND: i64 = -1;
/// Offset answered when the store could not be asked (network error): try again later.
pub const OFFSET_UNAVAILABLE: i64 = -2;

pub(crate) enum OffsetStore {
    Remote {
        instance: ClientInstance,
        group: String,
        table: Mutex<HashMap<MessageQueue, i64>>,
        /// One persist at a time: a periodic persist must not deliver an older snapshot after
        /// a newer offset was committed (a released orderly queue's next owner would read it).
        persisting: tokio::sync::Mutex<()>,
    },
    Local {
        path: PathBuf,
        table: Mutex<HashMap<MessageQueue, i64>>,
        /// The file's content as loaded, for `Store` reads.
        stored: Mutex<HashMap<MessageQueue, i64>>,
    },
}

impl OffsetStore {
    pub fn remote(instance: ClientInstance, group: &str) -> Self {
        OffsetStore::Remote {
            instance,
            group: group.to_string(),
            table: Mutex::new(HashMap::new()),
            persisting: tokio::sync::Mutex::new(()),
        }
    }

    /// `<dir>/<client id>/<group>/offsets.json`, loaded now if it exists.
    pub fn local(dir: &Path, client_id: &str, group: &str) -> Result<Self> {
        let path = dir
            .join(sanitize(client_id))
            .join(sanitize(group))
            .join("offsets.json");
        let stored = load_offsets_file(&path)?;
        Ok(OffsetStore::Local {
            path,
            table: Mutex::new(stored.clone()),
            stored: Mutex::new(stored),
        })
    }

    fn table(&self) -> &Mutex<HashMap<MessageQueue, i64>> {
        match self {
            OffsetStore::Remote { table, .. } | OffsetStore::Local { table, .. } => table,
        }
    }

    /// Sets a queue's offset; with `increase_only`, never moves it backwards.
    pub fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut t = self.table().lock().unwrap();
        let e = t.entry(mq.clone()).or_insert(offset);
        if !increase_only || offset > *e {
            *e = offset;
        }
    }

    pub async fn read(&self, mq: &MessageQueue, how: ReadOffsetType) -> i64 {
        if how != ReadOffsetType::Store {
            if let Some(o) = self.table().lock().unwrap().get(mq) {
                return *o;
            }
            if how == ReadOffsetType::Memory {
                return OFFSET_NOT_FOUND;
            }
        }
        match self {
            OffsetStore::Local { stored, .. } => {
                let o = stored.lock().unwrap().get(mq).copied();
                match o {
                    Some(o) => {
                        self.update(mq, o, false);
                        o
                    }
                    None => OFFSET_NOT_FOUND,
                }
            }
            OffsetStore::Remote {
                instance, group, ..
            } => match query_broker_offset(instance, group, mq).await {
                Ok(Some(o)) => {
                    self.update(mq, o, false);
                    o
                }
                Ok(None) => OFFSET_NOT_FOUND,
                Err(ClientError::Broker { .. }) => OFFSET_NOT_FOUND,
                Err(e) => {
                    tracing::debug!(?mq, error = %e, "reading the consumer offset failed");
                    OFFSET_UNAVAILABLE
                }
            },
        }
    }

    /// Forgets a queue (after rebalance gave it away).
    pub fn remove(&self, mq: &MessageQueue) {
        self.table().lock().unwrap().remove(mq);
    }

    /// A copy of the in-memory table.
    pub fn snapshot(&self) -> HashMap<MessageQueue, i64> {
        self.table().lock().unwrap().clone()
    }

    /// Persists the offsets of `mqs` (broker: UPDATE_CONSUMER_OFFSET; local: the file).
    pub async fn persist_all(&self, mqs: &[MessageQueue]) -> Result<()> {
        let _one_at_a_time = match self {
            OffsetStore::Remote { persisting, .. } => Some(persisting.lock().await),
            OffsetStore::Local { .. } => None,
        };
        let snapshot: Vec<(MessageQueue, i64)> = {
            let t = self.table().lock().unwrap();
            mqs.iter()
                .filter_map(|mq| t.get(mq).map(|o| (mq.clone(), *o)))
                .collect()
        };
        match self {
            OffsetStore::Remote {
                instance, group, ..
            } => {
                let mut first_err = None;
                for (mq, offset) in snapshot {
                    if let Err(e) = update_broker_offset(instance, group, &mq, offset).await {
                        tracing::debug!(?mq, error = %e, "persisting consumer offset failed");
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            OffsetStore::Local { path, stored, .. } => {
                let all = self.snapshot();
                write_offsets_file(path, &all)?;
                *stored.lock().unwrap() = all;
                Ok(())
            }
        }
    }

    pub async fn persist(&self, mq: &MessageQueue) -> Result<()> {
        self.persist_all(std::slice::from_ref(mq)).await
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == ':' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

async fn query_broker_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>> {
    let addr = instance.master_addr(&mq.broker_name, &mq.topic).await?;
    let cmd = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
        .with_ext("consumerGroup", group)
        .with_ext("topic", &mq.topic)
        .with_ext("queueId", mq.queue_id)
        .with_ext("bname", &mq.broker_name);
    let resp = instance
        .invoke(&addr, cmd, instance.request_timeout())
        .await?;
    match resp.code {
        response_code::SUCCESS => {
            Ok(Some(resp.ext_i64("offset").map_err(|e| {
                ClientError::broker(1, Some(&e.to_string()), &addr)
            })?))
        }
        response_code::QUERY_NOT_FOUND => Ok(None),
        code => Err(ClientError::broker(code, resp.remark.as_deref(), &addr)),
    }
}

async fn update_broker_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
) -> Result<()> {
    let addr = instance.master_addr(&mq.broker_name, &mq.topic).await?;
    let cmd = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET)
        .with_ext("consumerGroup", group)
        .with_ext("topic", &mq.topic)
        .with_ext("queueId", mq.queue_id)
        .with_ext("commitOffset", offset)
        .with_ext("bname", &mq.broker_name);
    // Java sends this oneway; waiting for the answer costs little here (a background task or
    // shutdown) and tells us the offset really arrived before the connection closes.
    let resp = instance
        .invoke(&addr, cmd, instance.request_timeout())
        .await?;
    if resp.code != response_code::SUCCESS {
        return Err(ClientError::broker(
            resp.code,
            resp.remark.as_deref(),
            &addr,
        ));
    }
    Ok(())
}

/// Renders an offset table the way Java's fastjson writes `OffsetSerializeWrapper` (and the
/// broker's ResetOffsetBody): JSON objects as map keys.
pub fn render_offset_table(table: &HashMap<MessageQueue, i64>) -> String {
    let mut entries: Vec<(&MessageQueue, &i64)> = table.iter().collect();
    entries.sort();
    let mut s = String::from("{\"offsetTable\":{");
    for (i, (mq, off)) in entries.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"brokerName\":{},\"queueId\":{},\"topic\":{}}}:{}",
            serde_json::Value::String(mq.broker_name.clone()),
            mq.queue_id,
            serde_json::Value::String(mq.topic.clone()),
            off
        ));
    }
    s.push_str("}}");
    s
}

/// Parses `{"offsetTable":{{MessageQueue}:offset, ...}}` (object keys, fastjson style).
pub fn parse_offset_table(bytes: &[u8]) -> std::result::Result<HashMap<MessageQueue, i64>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    let start = match text.find("\"offsetTable\"") {
        Some(i) => i + "\"offsetTable\"".len(),
        None if text
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim()
            .is_empty() =>
        {
            return Ok(out)
        }
        None => return Err("no offsetTable in offsets data".into()),
    };
    let mut rest = text[start..].trim_start();
    rest = rest
        .strip_prefix(':')
        .ok_or("expected ':' after offsetTable")?
        .trim_start();
    rest = rest
        .strip_prefix('{')
        .ok_or("expected '{' opening offsetTable")?;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            let _ = r;
            return Ok(out);
        }
        let mut it = serde_json::Deserializer::from_str(rest).into_iter::<MessageQueue>();
        let mq = match it.next() {
            Some(Ok(mq)) => mq,
            Some(Err(e)) => return Err(format!("bad queue key: {e}")),
            None => return Err("truncated offset table".into()),
        };
        rest = rest[it.byte_offset()..].trim_start();
        rest = rest
            .strip_prefix(':')
            .ok_or("expected ':' after a queue key")?
            .trim_start();
        let mut it = serde_json::Deserializer::from_str(rest).into_iter::<i64>();
        let off = match it.next() {
            Some(Ok(o)) => o,
            _ => return Err("bad offset value".into()),
        };
        rest = rest[it.byte_offset()..].trim_start();
        out.insert(mq, off);
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        }
    }
}

fn load_offsets_file(path: &Path) -> Result<HashMap<MessageQueue, i64>> {
    for p in [path.to_path_buf(), path.with_extension("json.bak")] {
        match std::fs::read(&p) {
            Ok(b) if !b.is_empty() => match parse_offset_table(&b) {
                Ok(t) => return Ok(t),
                Err(e) => tracing::warn!(path = %p.display(), error = %e, "broken offsets file"),
            },
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ClientError::Io(format!(
                    "cannot read offsets file {}: {e}",
                    p.display()
                )))
            }
        }
    }
    Ok(HashMap::new())
}

/// Writes atomically: `.tmp`, keep the previous file as `.bak`, rename.
fn write_offsets_file(path: &Path, table: &HashMap<MessageQueue, i64>) -> Result<()> {
    let io = |e: std::io::Error| {
        ClientError::Io(format!(
            "cannot write offsets file {}: {e}; check the offset store directory",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, render_offset_table(table)).map_err(io)?;
    if path.exists() {
        let _ = std::fs::copy(path, path.with_extension("json.bak"));
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(t: &str, b: &str, q: i32) -> MessageQueue {
        MessageQueue {
            topic: t.into(),
            broker_name: b.into(),
            queue_id: q,
        }
    }

    #[test]
    fn offset_table_round_trips_java_form() {
        let mut t = HashMap::new();
        t.insert(mq("T", "broker-a", 0), 15);
        t.insert(mq("T\"q", "broker-b", 3), 7);
        let s = render_offset_table(&t);
        assert!(s.starts_with(
            "{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"T\"}:15"
        ));
        assert_eq!(parse_offset_table(s.as_bytes()).unwrap(), t);
        let java = "{\n\t\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"X\"}:100,\n\t{\"topic\":\"X\",\"brokerName\":\"b\",\"queueId\":2}:5}\n}";
        let p = parse_offset_table(java.as_bytes()).unwrap();
        assert_eq!(p[&mq("X", "b", 1)], 100);
        assert_eq!(p[&mq("X", "b", 2)], 5);
        assert!(parse_offset_table(b"{\"offsetTable\":{").is_err());
        assert!(parse_offset_table(b"{}").unwrap().is_empty());
    }

    #[tokio::test]
    async fn local_store_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = OffsetStore::local(dir.path(), "10.0.0.1@x#1", "g").unwrap();
        let q = mq("T", "b", 0);
        assert_eq!(
            store.read(&q, ReadOffsetType::Store).await,
            OFFSET_NOT_FOUND
        );
        store.update(&q, 10, false);
        store.update(&q, 5, true);
        assert_eq!(store.read(&q, ReadOffsetType::Memory).await, 10);
        store.persist_all(std::slice::from_ref(&q)).await.unwrap();
        store.update(&q, 11, true);
        store.persist_all(std::slice::from_ref(&q)).await.unwrap();
        let path = dir
            .path()
            .join("10.0.0.1@x#1")
            .join("g")
            .join("offsets.json");
        assert!(path.exists());
        assert!(path.with_extension("json.bak").exists());
        let again = OffsetStore::local(dir.path(), "10.0.0.1@x#1", "g").unwrap();
        assert_eq!(again.read(&q, ReadOffsetType::Store).await, 11);
        // A broken main file falls back to the backup.
        std::fs::write(&path, "garbage").unwrap();
        let bak = OffsetStore::local(dir.path(), "10.0.0.1@x#1", "g").unwrap();
        assert_eq!(bak.read(&q, ReadOffsetType::Store).await, 10);
    }
}
