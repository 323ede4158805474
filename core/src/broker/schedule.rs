//! Delay levels: messages with a DELAY level wait in `SCHEDULE_TOPIC_XXXX` (queue = level − 1)
//! and are delivered to their real topic and queue when due. Progress per level is persisted in
//! `config/delayOffset.json` so a restart neither loses nor re-delivers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::topic_config::SCHEDULE_TOPIC;
use super::BrokerInner;
use crate::protocol::message::{decode_properties, encode_properties, property, MessageRecord};
use crate::store::{load_config_file, persist_config_file, AcceptAll, PutMessageStatus};

/// How often an idle level looks again.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How often progress is written to disk.
const PERSIST_INTERVAL: Duration = Duration::from_secs(10);

/// Parses `messageDelayLevel` ("1s 5s 10s 30s 1m ... 2h"; units ms, s, m, h, d) into millis.
pub fn parse_delay_levels(text: &str) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        let (num, unit_ms) = if let Some(n) = item.strip_suffix("ms") {
            (n, 1)
        } else if let Some(n) = item.strip_suffix('s') {
            (n, 1000)
        } else if let Some(n) = item.strip_suffix('m') {
            (n, 60_000)
        } else if let Some(n) = item.strip_suffix('h') {
            (n, 3_600_000)
        } else if let Some(n) = item.strip_suffix('d') {
            (n, 86_400_000)
        } else {
            return Err(format!(
                "messageDelayLevel: '{item}' has no unit (ms, s, m, h or d)"
            ));
        };
        let n: i64 = num
            .parse()
            .map_err(|_| format!("messageDelayLevel: '{item}' is not a number with a unit"))?;
        out.push(n * unit_ms);
    }
    if out.is_empty() {
        return Err("messageDelayLevel: no levels given".into());
    }
    Ok(out)
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DelayOffsetFile {
    offset_table: BTreeMap<i32, i64>,
}

pub struct ScheduleService {
    path: PathBuf,
    /// Delay of each level in ms; level L is index L − 1.
    pub levels_ms: Vec<i64>,
    /// level → next SCHEDULE_TOPIC_XXXX queue offset to deliver.
    offsets: Mutex<BTreeMap<i32, i64>>,
}

impl ScheduleService {
    pub fn load(path: PathBuf, levels_ms: Vec<i64>) -> std::io::Result<Self> {
        let mut offsets = BTreeMap::new();
        if let Some(text) = load_config_file(&path)? {
            match crate::protocol::json::from_fastjson::<DelayOffsetFile>(text.as_bytes()) {
                Ok(f) => offsets = f.offset_table,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "delayOffset.json unreadable")
                }
            }
        }
        Ok(ScheduleService {
            path,
            levels_ms,
            offsets: Mutex::new(offsets),
        })
    }

    pub fn max_level(&self) -> i32 {
        self.levels_ms.len() as i32
    }

    pub fn offsets_json(&self) -> String {
        let f = DelayOffsetFile {
            offset_table: self.offsets.lock().unwrap().clone(),
        };
        serde_json::to_string_pretty(&f).expect("delay offsets serialize")
    }

    pub fn persist(&self) {
        if let Err(e) = persist_config_file(&self.path, &self.offsets_json()) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting delayOffset.json failed");
        }
    }

    /// Rewrites a message with a delay level so it waits in the schedule topic.
    pub fn redirect(
        &self,
        msg: &mut MessageRecord,
        props: &mut std::collections::HashMap<String, String>,
        level: i32,
    ) {
        let level = level.min(self.max_level());
        props.insert(property::DELAY_TIME_LEVEL.into(), level.to_string());
        props.insert(property::REAL_TOPIC.into(), msg.topic.clone());
        props.insert(property::REAL_QUEUE_ID.into(), msg.queue_id.to_string());
        msg.topic = SCHEDULE_TOPIC.to_string();
        msg.queue_id = level - 1;
        msg.properties = encode_properties(props);
    }

    /// Delivers what is due on one level; returns whether anything was delivered.
    fn deliver_level(&self, inner: &BrokerInner, level: i32) -> bool {
        let queue_id = level - 1;
        let delay_ms = self.levels_ms[queue_id as usize];
        let mut offset = *self.offsets.lock().unwrap().get(&level).unwrap_or(&0);
        let min = inner.store.min_offset_in_queue(SCHEDULE_TOPIC, queue_id);
        if offset < min {
            offset = min;
        }
        let mut delivered = false;
        loop {
            let res = inner
                .store
                .get_message(SCHEDULE_TOPIC, queue_id, offset, 32, &AcceptAll);
            if res.messages.is_empty() {
                break;
            }
            let now = crate::protocol::now_ms();
            let mut stop = false;
            for raw in &res.messages {
                let Ok((stored, _)) = MessageRecord::decode(raw, false) else {
                    offset += 1;
                    continue;
                };
                if stored.store_timestamp + delay_ms > now {
                    stop = true;
                    break;
                }
                if !self.deliver_one(inner, stored) {
                    // Store refused (disk full, shutting down): try again next round.
                    stop = true;
                    break;
                }
                offset += 1;
                delivered = true;
                self.offsets.lock().unwrap().insert(level, offset);
            }
            if stop || res.status != crate::store::GetMessageStatus::Found {
                break;
            }
        }
        delivered
    }

    fn deliver_one(&self, inner: &BrokerInner, stored: MessageRecord) -> bool {
        let mut props = decode_properties(&stored.properties);
        let Some(real_topic) = props.get(property::REAL_TOPIC).cloned() else {
            tracing::warn!(
                offset = stored.physical_offset,
                "scheduled message without REAL_TOPIC dropped"
            );
            return true;
        };
        let real_qid = props
            .get(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        props.remove(property::DELAY_TIME_LEVEL);
        props.insert(property::WAIT_STORE_MSG_OK.into(), "false".into());
        let msg = MessageRecord {
            topic: real_topic,
            queue_id: real_qid,
            properties: encode_properties(&props),
            store_host: inner.store_host,
            ..stored
        };
        let r = inner.store.put_message(msg);
        matches!(
            r.status,
            PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout
        )
    }
}

/// Starts the delivery loop and the periodic persistence.
pub fn start(inner: &Arc<BrokerInner>) -> Vec<tokio::task::JoinHandle<()>> {
    let deliver = inner.clone();
    let t1 = tokio::spawn(async move {
        loop {
            let d = deliver.clone();
            let busy = tokio::task::spawn_blocking(move || {
                let mut any = false;
                for level in 1..=d.schedule.max_level() {
                    any |= d.schedule.deliver_level(&d, level);
                }
                any
            })
            .await
            .unwrap_or(false);
            if !busy {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    });
    let persist = inner.clone();
    let t2 = tokio::spawn(async move {
        loop {
            tokio::time::sleep(PERSIST_INTERVAL).await;
            let p = persist.clone();
            let _ = tokio::task::spawn_blocking(move || p.schedule.persist()).await;
        }
    });
    vec![t1, t2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_default_levels_and_units() {
        let l = parse_delay_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h")
            .unwrap();
        assert_eq!(l.len(), 18);
        assert_eq!(l[0], 1000);
        assert_eq!(l[4], 60_000);
        assert_eq!(l[17], 7_200_000);
        assert_eq!(
            parse_delay_levels("100ms 1d").unwrap(),
            vec![100, 86_400_000]
        );
        assert!(parse_delay_levels("5x").is_err());
        assert!(parse_delay_levels("").is_err());
    }
}
