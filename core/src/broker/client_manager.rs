//! Who is connected: producer groups and consumer groups with their channels and subscriptions,
//! from heartbeats; silent clients expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::protocol::bodies::{ConsumerData, SubscriptionData};
use crate::protocol::LanguageCode;
use crate::remoting::Channel;

#[derive(Clone, Debug)]
pub struct ClientChannel {
    pub channel: Channel,
    pub client_id: String,
    pub language: LanguageCode,
    pub version: i32,
    pub last_update: Instant,
}

#[derive(Default, Debug, Clone)]
pub struct ConsumerGroupInfo {
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    pub subscriptions: HashMap<String, SubscriptionData>,
    /// channel id → client
    pub channels: HashMap<u64, ClientChannel>,
}

/// Most requesters remembered from their request messages (see `note_requester`); past it,
/// only heartbeats make a requester known.
const MAX_REQUESTERS: usize = 65_536;

#[derive(Default)]
struct Tables {
    producers: HashMap<String, HashMap<u64, ClientChannel>>,
    consumers: HashMap<String, ConsumerGroupInfo>,
    /// client id → the connection its request messages came over (request-reply).
    requesters: HashMap<String, Channel>,
}

#[derive(Default)]
pub struct ClientManager {
    tables: Mutex<Tables>,
}

/// What a heartbeat or departure changed for a consumer group: its channels to notify.
pub struct GroupChange {
    pub group: String,
    pub notify: Vec<Channel>,
}

impl ClientManager {
    pub fn register_producer(&self, group: &str, client: ClientChannel) {
        let mut t = self.tables.lock().unwrap();
        t.producers
            .entry(group.to_string())
            .or_default()
            .insert(client.channel.id(), client);
    }

    /// Registers a consumer's heartbeat; returns the group's channels when its membership or
    /// subscriptions changed (they must be told to rebalance).
    pub fn register_consumer(
        &self,
        data: &ConsumerData,
        client: ClientChannel,
    ) -> Option<GroupChange> {
        let mut t = self.tables.lock().unwrap();
        let info = t.consumers.entry(data.group_name.clone()).or_default();
        info.consume_type = data.consume_type.clone();
        info.message_model = data.message_model.clone();
        info.consume_from_where = data.consume_from_where.clone();
        let new_channel = match info.channels.get_mut(&client.channel.id()) {
            Some(existing) => {
                existing.last_update = client.last_update;
                existing.client_id = client.client_id.clone();
                false
            }
            None => {
                info.channels.insert(client.channel.id(), client);
                true
            }
        };
        let mut subs_changed = false;
        for sub in &data.subscription_data_set {
            match info.subscriptions.get(&sub.topic) {
                Some(old)
                    if old.sub_string == sub.sub_string
                        && old.expression_type == sub.expression_type =>
                {
                    // Keep the newer version for SUBSCRIPTION_NOT_LATEST checks.
                    if sub.sub_version > old.sub_version {
                        info.subscriptions.insert(sub.topic.clone(), sub.clone());
                    }
                }
                _ => {
                    info.subscriptions.insert(sub.topic.clone(), sub.clone());
                    subs_changed = true;
                }
            }
        }
        if new_channel || subs_changed {
            Some(GroupChange {
                group: data.group_name.clone(),
                notify: info.channels.values().map(|c| c.channel.clone()).collect(),
            })
        } else {
            None
        }
    }

    pub fn unregister_producer(&self, group: &str, channel: &Channel) {
        let mut t = self.tables.lock().unwrap();
        if let Some(g) = t.producers.get_mut(group) {
            g.remove(&channel.id());
            if g.is_empty() {
                t.producers.remove(group);
            }
        }
    }

    pub fn unregister_consumer(&self, group: &str, channel: &Channel) -> Option<GroupChange> {
        let mut t = self.tables.lock().unwrap();
        let info = t.consumers.get_mut(group)?;
        info.channels.remove(&channel.id())?;
        let notify = info
            .channels
            .values()
            .map(|c| c.channel.clone())
            .collect::<Vec<_>>();
        if info.channels.is_empty() {
            t.consumers.remove(group);
        }
        Some(GroupChange {
            group: group.to_string(),
            notify,
        })
    }

    /// Forgets a closed channel everywhere; returns the consumer groups it left.
    pub fn channel_closed(&self, channel: &Channel) -> Vec<GroupChange> {
        let mut t = self.tables.lock().unwrap();
        for g in t.producers.values_mut() {
            g.remove(&channel.id());
        }
        t.producers.retain(|_, g| !g.is_empty());
        t.requesters.retain(|_, c| c.id() != channel.id());
        let mut changes = Vec::new();
        for (name, info) in t.consumers.iter_mut() {
            if info.channels.remove(&channel.id()).is_some() {
                changes.push(GroupChange {
                    group: name.clone(),
                    notify: info.channels.values().map(|c| c.channel.clone()).collect(),
                });
            }
        }
        t.consumers.retain(|_, i| !i.channels.is_empty());
        changes
    }

    /// Channels that have been silent longer than `timeout`.
    pub fn expired_channels(&self, timeout: Duration) -> Vec<Channel> {
        let t = self.tables.lock().unwrap();
        let now = Instant::now();
        let mut out: Vec<Channel> = Vec::new();
        let mut push = |c: &ClientChannel| {
            if now.duration_since(c.last_update) > timeout && !out.contains(&c.channel) {
                out.push(c.channel.clone());
            }
        };
        t.producers
            .values()
            .flat_map(|g| g.values())
            .for_each(&mut push);
        t.consumers
            .values()
            .flat_map(|g| g.channels.values())
            .for_each(&mut push);
        out
    }

    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let t = self.tables.lock().unwrap();
        let mut ids: Vec<String> = t
            .consumers
            .get(group)
            .map(|i| i.channels.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.tables.lock().unwrap().consumers.get(group).cloned()
    }

    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.tables
            .lock()
            .unwrap()
            .consumers
            .get(group)
            .and_then(|i| i.subscriptions.get(topic).cloned())
    }

    /// A consumer's channel by client id.
    pub fn find_consumer_channel(&self, group: &str, client_id: &str) -> Option<ClientChannel> {
        let t = self.tables.lock().unwrap();
        t.consumers
            .get(group)?
            .channels
            .values()
            .find(|c| c.client_id == client_id)
            .cloned()
    }

    /// A live producer channel of the group (transaction check-back goes there).
    pub fn any_producer_channel(&self, group: &str) -> Option<Channel> {
        let t = self.tables.lock().unwrap();
        t.producers
            .get(group)?
            .values()
            .map(|c| c.channel.clone())
            .find(|c| !c.is_closed())
    }

    /// Remembers the connection a request message (one naming its requester) came over: it
    /// is the requester's, so its reply can be pushed there even before the requester's first
    /// heartbeat reaches this broker.
    pub fn note_requester(&self, client_id: &str, channel: &Channel) {
        let mut t = self.tables.lock().unwrap();
        if t.requesters.len() < MAX_REQUESTERS || t.requesters.contains_key(client_id) {
            t.requesters.insert(client_id.to_string(), channel.clone());
        }
    }

    /// Where a reply to `client_id`'s request is pushed: the live channel of a producer with
    /// that client id, whatever its group (RocketMQ's `ProducerManager.findChannel`), else the
    /// connection its request came over.
    pub fn find_requester_channel(&self, client_id: &str) -> Option<Channel> {
        let t = self.tables.lock().unwrap();
        t.producers
            .values()
            .flat_map(|g| g.values())
            .find(|c| c.client_id == client_id && !c.channel.is_closed())
            .map(|c| c.channel.clone())
            .or_else(|| {
                t.requesters
                    .get(client_id)
                    .filter(|c| !c.is_closed())
                    .cloned()
            })
    }

    pub fn consumer_groups(&self) -> Vec<String> {
        self.tables
            .lock()
            .unwrap()
            .consumers
            .keys()
            .cloned()
            .collect()
    }
}
