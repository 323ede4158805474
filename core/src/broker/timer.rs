//! Delivery at an arbitrary time (RocketMQ 5's timer properties `TIMER_DELIVER_MS`,
//! `TIMER_DELAY_MS`, `TIMER_DELAY_SEC`): the message waits in `rmq_sys_wheel_timer` and is
//! delivered to its real topic and queue when due. Progress survives restarts: a watermark (every
//! timer-queue offset below it is delivered) plus the offsets delivered above it, in
//! `config/timerCheckpoint.json`; at start the queue is re-read from the watermark.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BrokerInner;
use crate::protocol::message::{decode_properties, encode_properties, property, MessageRecord};
use crate::store::{
    load_config_file, persist_config_file, AcceptAll, GetMessageStatus, PutMessageStatus,
};

pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// The absolute delivery time RocketMQ 5 stores on timer messages.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Longest a delivery loop sleeps, so new earlier messages are not held up.
const MAX_IDLE: Duration = Duration::from_millis(100);

/// When a message with timer properties is due, or an error for a bad or too-distant value.
pub fn delivery_time(
    props: &HashMap<String, String>,
    now_ms: i64,
    max_delay_ms: i64,
) -> Result<Option<i64>, String> {
    let parse = |k: &str| -> Result<Option<i64>, String> {
        match props.get(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("the property {k}={v} is not a number")),
        }
    };
    let at = if let Some(ms) = parse(property::TIMER_DELIVER_MS)? {
        ms
    } else if let Some(ms) = parse(property::TIMER_DELAY_MS)? {
        now_ms + ms
    } else if let Some(s) = parse(property::TIMER_DELAY_SEC)? {
        now_ms + s * 1000
    } else {
        return Ok(None);
    };
    if at - now_ms > max_delay_ms {
        return Err(format!(
            "the delivery time is {} ms away, past the broker's limit timerMaxDelaySec={}",
            at - now_ms,
            max_delay_ms / 1000
        ));
    }
    Ok(Some(at))
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Checkpoint {
    watermark: i64,
    delivered: BTreeSet<i64>,
}

struct State {
    checkpoint: Checkpoint,
    /// (deliver at ms, timer queue offset, commitlog offset) of messages waiting.
    pending: BTreeSet<(i64, i64, i64)>,
    /// Timer-queue offsets already read into `pending`.
    scanned_to: i64,
}

pub struct TimerService {
    path: PathBuf,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

impl TimerService {
    pub fn load(path: PathBuf) -> std::io::Result<Self> {
        let mut checkpoint = Checkpoint::default();
        if let Some(text) = load_config_file(&path)? {
            match serde_json::from_str(&text) {
                Ok(c) => checkpoint = c,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "timerCheckpoint.json unreadable")
                }
            }
        }
        let scanned_to = checkpoint.watermark;
        Ok(TimerService {
            path,
            state: Mutex::new(State {
                checkpoint,
                pending: BTreeSet::new(),
                scanned_to,
            }),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Rewrites a message to wait in the timer topic until `deliver_at_ms`.
    pub fn redirect(
        &self,
        msg: &mut MessageRecord,
        props: &mut HashMap<String, String>,
        deliver_at_ms: i64,
    ) {
        props.insert(property::REAL_TOPIC.into(), msg.topic.clone());
        props.insert(property::REAL_QUEUE_ID.into(), msg.queue_id.to_string());
        props.insert(TIMER_OUT_MS.into(), deliver_at_ms.to_string());
        msg.topic = TIMER_TOPIC.to_string();
        msg.queue_id = 0;
        msg.properties = encode_properties(props);
    }

    /// Wakes the delivery loop (a timer message was stored).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    pub fn pending_count(&self) -> usize {
        self.state.lock().unwrap().pending.len()
    }

    /// Reads newly stored timer messages into the pending set.
    fn scan(&self, inner: &BrokerInner) {
        let mut offset = self.state.lock().unwrap().scanned_to;
        loop {
            let r = inner
                .store
                .get_message(TIMER_TOPIC, 0, offset, 256, &AcceptAll);
            if r.status != GetMessageStatus::Found {
                if matches!(r.status, GetMessageStatus::OffsetTooSmall) {
                    offset = r.next_begin_offset;
                    continue;
                }
                break;
            }
            let mut st = self.state.lock().unwrap();
            for raw in &r.messages {
                if let Ok((m, _)) = MessageRecord::decode(raw, false) {
                    if m.queue_offset >= st.checkpoint.watermark
                        && !st.checkpoint.delivered.contains(&m.queue_offset)
                    {
                        let at = decode_properties(&m.properties)
                            .get(TIMER_OUT_MS)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(m.store_timestamp);
                        st.pending.insert((at, m.queue_offset, m.physical_offset));
                    }
                }
            }
            offset = r.next_begin_offset;
            st.scanned_to = offset;
        }
    }

    /// Delivers what is due; returns how long until the next message is due.
    fn deliver_due(&self, inner: &BrokerInner) -> Duration {
        let now = crate::protocol::now_ms();
        let due: Vec<(i64, i64, i64)> = {
            let st = self.state.lock().unwrap();
            st.pending
                .iter()
                .take_while(|(at, _, _)| *at <= now)
                .copied()
                .collect()
        };
        let mut delivered_any = false;
        for entry in &due {
            let (_, queue_offset, phys) = *entry;
            let ok = match inner
                .store
                .look_message_by_offset(phys)
                .and_then(|raw| MessageRecord::decode(&raw, false).ok())
            {
                Some((m, _)) => self.deliver_one(inner, m),
                None => true, // gone (retention): nothing left to deliver
            };
            if !ok {
                break;
            }
            let mut st = self.state.lock().unwrap();
            st.pending.remove(entry);
            st.checkpoint.delivered.insert(queue_offset);
            loop {
                let w = st.checkpoint.watermark;
                if !st.checkpoint.delivered.remove(&w) {
                    break;
                }
                st.checkpoint.watermark = w + 1;
            }
            delivered_any = true;
        }
        if delivered_any {
            self.persist();
        }
        let st = self.state.lock().unwrap();
        match st.pending.iter().next() {
            Some((at, _, _)) => {
                Duration::from_millis((*at - now).clamp(1, MAX_IDLE.as_millis() as i64) as u64)
            }
            None => MAX_IDLE,
        }
    }

    fn deliver_one(&self, inner: &BrokerInner, stored: MessageRecord) -> bool {
        let mut props = decode_properties(&stored.properties);
        let Some(real_topic) = props.remove(property::REAL_TOPIC) else {
            return true;
        };
        let real_qid = props
            .remove(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        for k in [
            property::TIMER_DELIVER_MS,
            property::TIMER_DELAY_MS,
            property::TIMER_DELAY_SEC,
        ] {
            props.remove(k);
        }
        props.insert(property::WAIT_STORE_MSG_OK.into(), "false".into());
        let msg = MessageRecord {
            topic: real_topic,
            queue_id: real_qid,
            properties: encode_properties(&props),
            store_host: inner.store_host,
            ..stored
        };
        matches!(
            inner.store.put_message(msg).status,
            PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout
        )
    }

    pub fn persist(&self) {
        let json = serde_json::to_string(&self.state.lock().unwrap().checkpoint)
            .expect("checkpoint serializes");
        if let Err(e) = persist_config_file(&self.path, &json) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting timerCheckpoint.json failed");
        }
    }
}

/// Starts the delivery loop.
pub fn start(inner: &Arc<BrokerInner>) -> tokio::task::JoinHandle<()> {
    let inner = inner.clone();
    tokio::spawn(async move {
        loop {
            let i = inner.clone();
            let wait = tokio::task::spawn_blocking(move || {
                i.timer.scan(&i);
                i.timer.deliver_due(&i)
            })
            .await
            .unwrap_or(MAX_IDLE);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = inner.timer.wake.notified() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_time_from_each_property() {
        let p = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(delivery_time(&HashMap::new(), 1000, 10_000).unwrap(), None);
        assert_eq!(
            delivery_time(&p("TIMER_DELIVER_MS", "5000"), 1000, 10_000).unwrap(),
            Some(5000)
        );
        assert_eq!(
            delivery_time(&p("TIMER_DELAY_MS", "250"), 1000, 10_000).unwrap(),
            Some(1250)
        );
        assert_eq!(
            delivery_time(&p("TIMER_DELAY_SEC", "3"), 1000, 10_000).unwrap(),
            Some(4000)
        );
        assert!(delivery_time(&p("TIMER_DELAY_SEC", "30"), 1000, 10_000)
            .unwrap_err()
            .contains("timerMaxDelaySec"));
        assert!(delivery_time(&p("TIMER_DELAY_MS", "soon"), 1000, 10_000).is_err());
    }
}
