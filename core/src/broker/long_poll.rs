//! Long polling: a pull that finds nothing is parked per queue and answered as soon as a
//! matching message lands there, or when its suspend time runs out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::BrokerInner;
use crate::protocol::RemotingCommand;
use crate::remoting::Channel;

struct HeldPull {
    id: u64,
    channel: Channel,
    request: RemotingCommand,
    /// The offset the pull asked for: any message at or past it wakes the pull.
    offset: i64,
    /// Tag codes the subscription accepts; `None` accepts all.
    tag_codes: Option<Vec<i32>>,
}

#[derive(Default)]
pub struct PullHoldService {
    held: Mutex<HashMap<(String, i32), Vec<HeldPull>>>,
    next_id: AtomicU64,
}

impl PullHoldService {
    /// Parks a pull until a message arrives or `timeout` passes.
    #[allow(clippy::too_many_arguments)]
    pub fn suspend(
        inner: &Arc<BrokerInner>,
        channel: Channel,
        request: RemotingCommand,
        topic: &str,
        queue_id: i32,
        offset: i64,
        tag_codes: Option<Vec<i32>>,
        timeout: Duration,
    ) {
        let svc = &inner.pulls;
        let id = svc.next_id.fetch_add(1, Ordering::Relaxed);
        let key = (topic.to_string(), queue_id);
        svc.held
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_default()
            .push(HeldPull {
                id,
                channel,
                request,
                offset,
                tag_codes,
            });
        // A message may have landed between the store read and the parking above.
        let max = inner.store.max_offset_in_queue(topic, queue_id);
        if max > offset {
            wake(inner, topic, queue_id, max, None);
        }
        let weak = Arc::downgrade(inner);
        inner.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(inner) = weak.upgrade() else { return };
            let taken = {
                let mut held = inner.pulls.held.lock().unwrap();
                let Some(list) = held.get_mut(&key) else {
                    return;
                };
                let Some(pos) = list.iter().position(|p| p.id == id) else {
                    return;
                };
                let p = list.swap_remove(pos);
                if list.is_empty() {
                    held.remove(&key);
                }
                p
            };
            execute(&inner, taken).await;
        });
    }

    /// How many pulls are parked (for tests and stats).
    pub fn held_count(&self) -> usize {
        self.held.lock().unwrap().values().map(Vec::len).sum()
    }
}

async fn execute(inner: &Arc<BrokerInner>, p: HeldPull) {
    let opaque = p.request.opaque;
    if p.channel.is_closed() {
        return;
    }
    if let Some(resp) =
        super::processor::pull::process(inner, p.channel.clone(), p.request, false).await
    {
        let _ = p.channel.respond(opaque, resp).await;
    }
}

/// Wakes the pulls parked on a queue that a message at `max_offset - 1` with `tags_code` satisfies.
fn wake(
    inner: &Arc<BrokerInner>,
    topic: &str,
    queue_id: i32,
    max_offset: i64,
    tags_code: Option<i64>,
) {
    let ready: Vec<HeldPull> = {
        let mut held = inner.pulls.held.lock().unwrap();
        let key = (topic.to_string(), queue_id);
        let Some(list) = held.get_mut(&key) else {
            return;
        };
        let mut ready = Vec::new();
        let mut i = 0;
        while i < list.len() {
            let p = &list[i];
            let tag_ok = match (&p.tag_codes, tags_code) {
                (None, _) | (_, None) => true,
                (Some(codes), Some(code)) => codes.contains(&(code as i32)),
            };
            if max_offset > p.offset && tag_ok {
                ready.push(list.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            held.remove(&key);
        }
        ready
    };
    for p in ready {
        let inner = inner.clone();
        inner
            .runtime
            .clone()
            .spawn(async move { execute(&inner, p).await });
    }
}

/// Connects the store's dispatch to the parked pulls.
pub fn install_arrival_listener(inner: &Arc<BrokerInner>) {
    let weak: Weak<BrokerInner> = Arc::downgrade(inner);
    inner.store.set_arrival_listener(Box::new(
        move |topic, queue_id, max_offset, tags_code, _props| {
            if let Some(inner) = weak.upgrade() {
                // Cheap when nothing is parked: one map lookup under a short lock.
                wake(&inner, topic, queue_id, max_offset, Some(tags_code));
            }
        },
    ));
}
