//! The name server's request handler (Java `DefaultRequestProcessor`): decodes each request's
//! header and body, asks the route tables or the KV config, and encodes the answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::json_form::{self, JsonForm};
use super::kv_config::{KvConfigManager, NAMESPACE_ORDER_TOPIC_CONFIG};
use super::register_body;
use super::route_info::{BrokerRegistration, RouteInfoManager, UnitTopicFilter};
use super::NamesrvConfig;
use crate::protocol::bodies::DataVersion;
use crate::protocol::codes::VERSION_STANDARD_JSON_ROUTE;
use crate::protocol::header::HeaderError;
use crate::protocol::json::from_fastjson;
use crate::protocol::{request_code, response_code, RemotingCommand};
use crate::remoting::{BoxFuture, Channel, RequestHandler};

/// Name server request codes not (yet) in `protocol::codes` (numbers from Java `RequestCode`).
pub mod namesrv_code {
    pub const WIPE_WRITE_PERM_OF_BROKER: i32 = 205;
    pub const GET_SYSTEM_TOPIC_LIST_FROM_NS: i32 = 304;
    pub const GET_UNIT_TOPIC_LIST: i32 = 311;
    pub const GET_HAS_UNIT_SUB_TOPIC_LIST: i32 = 312;
    pub const GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: i32 = 313;
    pub const UPDATE_NAMESRV_CONFIG: i32 = 318;
    pub const GET_NAMESRV_CONFIG: i32 = 319;
    pub const ADD_WRITE_PERM_OF_BROKER: i32 = 327;
}

/// Shared state behind the handler: route tables, KV config and the few runtime settings.
pub struct NamesrvProcessor {
    pub(super) route: RouteInfoManager,
    pub(super) kv: KvConfigManager,
    config: NamesrvConfig,
    order_message_enable: AtomicBool,
    /// Connections brokers registered on, so the liveness scan can close an expired one.
    broker_channels: Mutex<HashMap<u64, Channel>>,
}

type Handled = Result<RemotingCommand, HeaderError>;

impl NamesrvProcessor {
    pub(super) fn new(config: NamesrvConfig, kv: KvConfigManager) -> Self {
        NamesrvProcessor {
            route: RouteInfoManager::new(),
            kv,
            order_message_enable: AtomicBool::new(config.order_message_enable),
            config,
            broker_channels: Mutex::new(HashMap::new()),
        }
    }

    /// Closes a connection a broker registered on (its registration expired), as Java does,
    /// so a hung broker reconnects afresh.
    pub(super) fn close_broker_channel(&self, channel_id: u64) {
        let ch = self.broker_channels.lock().unwrap().remove(&channel_id);
        if let Some(ch) = ch {
            tokio::spawn(async move { ch.close().await });
        }
    }

    /// Answers one request.
    pub fn process(&self, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
        use namesrv_code::*;
        use request_code::*;
        let handled = match req.code {
            REGISTER_BROKER => self.register_broker(channel, req),
            UNREGISTER_BROKER => self.unregister_broker(req),
            QUERY_DATA_VERSION => self.query_data_version(req),
            GET_ROUTEINFO_BY_TOPIC => self.route_by_topic(req),
            GET_BROKER_CLUSTER_INFO => body_ok(req, &self.route.cluster_info(), JsonForm::Fastjson),
            GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                body_ok(req, &self.route.all_topics(), JsonForm::Fastjson)
            }
            GET_TOPICS_BY_CLUSTER => req.ext_str("cluster").and_then(|cluster| {
                body_ok(
                    req,
                    &self.route.topics_of_cluster(cluster),
                    JsonForm::Fastjson,
                )
            }),
            GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                body_ok(req, &self.route.system_topics(), JsonForm::Fastjson)
            }
            GET_UNIT_TOPIC_LIST => self.unit_topics(req, UnitTopicFilter::Unit),
            GET_HAS_UNIT_SUB_TOPIC_LIST => self.unit_topics(req, UnitTopicFilter::HasUnitSub),
            GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                self.unit_topics(req, UnitTopicFilter::HasUnitSubNotUnit)
            }
            DELETE_TOPIC_IN_NAMESRV => self.delete_topic(req),
            WIPE_WRITE_PERM_OF_BROKER => self.set_write_perm(req, false),
            ADD_WRITE_PERM_OF_BROKER => self.set_write_perm(req, true),
            PUT_KV_CONFIG => self.put_kv(req),
            GET_KV_CONFIG => self.get_kv(req),
            DELETE_KV_CONFIG => self.delete_kv(req),
            GET_KVLIST_BY_NAMESPACE => self.kv_list(req),
            GET_NAMESRV_CONFIG => Ok(ok(req).with_body(self.config_properties())),
            UPDATE_NAMESRV_CONFIG => Ok(self.update_config(req)),
            _ => Ok(Channel::not_supported(req)),
        };
        handled.unwrap_or_else(|e| {
            RemotingCommand::response_to(req, response_code::SYSTEM_ERROR, Some(e.0))
        })
    }

    fn register_broker(&self, channel: &Channel, req: &RemotingCommand) -> Handled {
        let broker_name = req.ext_str("brokerName")?;
        let broker_addr = req.ext_str("brokerAddr")?;
        let cluster_name = req.ext_str("clusterName")?;
        let ha_server_addr = req.ext_str("haServerAddr")?;
        let broker_id = req.ext_i64("brokerId")?;
        let body_crc32 = req.ext_i32_or("bodyCrc32", 0)?;
        if !register_body::crc_matches(&req.body, body_crc32) {
            tracing::warn!(
                broker = broker_name,
                addr = broker_addr,
                "register body crc32 mismatch"
            );
            return Ok(error(req, "crc32 not match"));
        }
        let body = match register_body::decode(&req.body, req.ext_bool("compressed")) {
            Ok(b) => b,
            Err(e) => return Ok(error(req, &e.0)),
        };
        let result = self.route.register_broker(
            &BrokerRegistration {
                cluster_name,
                broker_addr,
                broker_name,
                broker_id,
                ha_server_addr,
                topic_config: &body.topic_config_serialize_wrapper,
                filter_server_list: &body.filter_server_list,
                channel_id: channel.id(),
            },
            Instant::now(),
        );
        self.broker_channels
            .lock()
            .unwrap()
            .insert(channel.id(), channel.clone());
        let mut resp = ok(req);
        if let Some(master) = result.master_addr {
            resp.set_ext("masterAddr", master);
        }
        if let Some(ha) = result.ha_server_addr {
            resp.set_ext("haServerAddr", ha);
        }
        if let Some(order_conf) = self.kv.list(NAMESPACE_ORDER_TOPIC_CONFIG) {
            resp.body = encode(&order_conf, JsonForm::Fastjson)?.into();
        }
        Ok(resp)
    }

    fn unregister_broker(&self, req: &RemotingCommand) -> Handled {
        self.route.unregister_broker(
            req.ext_str("clusterName")?,
            req.ext_str("brokerAddr")?,
            req.ext_str("brokerName")?,
            req.ext_i64("brokerId")?,
        );
        Ok(ok(req))
    }

    fn query_data_version(&self, req: &RemotingCommand) -> Handled {
        let broker_addr = req.ext_str("brokerAddr")?;
        let version: DataVersion = from_fastjson(&req.body)
            .map_err(|e| HeaderError(format!("query data version body: {e}")))?;
        let changed = self.route.is_topic_config_changed(broker_addr, &version);
        if !changed {
            self.route.touch(broker_addr, Instant::now());
        }
        let mut resp = ok(req).with_ext("changed", changed);
        if let Some(ours) = self.route.data_version_of(broker_addr) {
            resp.body = encode(&ours, JsonForm::Fastjson)?.into();
        }
        Ok(resp)
    }

    fn route_by_topic(&self, req: &RemotingCommand) -> Handled {
        let topic = req.ext_str("topic")?;
        let Some(mut route) = self.route.topic_route(topic) else {
            return Ok(RemotingCommand::response_to(
                req,
                response_code::TOPIC_NOT_EXIST,
                Some(format!(
                    "No topic route info in name server for the topic: {topic}"
                )),
            ));
        };
        if self.order_message_enable.load(Ordering::Relaxed) {
            route.order_topic_conf = self.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, topic);
        }
        let form = if req.version >= VERSION_STANDARD_JSON_ROUTE
            || req.ext_bool("acceptStandardJsonOnly")
        {
            JsonForm::Standard
        } else {
            JsonForm::Fastjson
        };
        body_ok(req, &route, form)
    }

    fn unit_topics(&self, req: &RemotingCommand, filter: UnitTopicFilter) -> Handled {
        body_ok(req, &self.route.unit_topics(filter), JsonForm::Fastjson)
    }

    fn delete_topic(&self, req: &RemotingCommand) -> Handled {
        let topic = req.ext_str("topic")?;
        let cluster = req.ext("clusterName").filter(|c| !c.trim().is_empty());
        self.route.delete_topic(topic, cluster);
        Ok(ok(req))
    }

    fn set_write_perm(&self, req: &RemotingCommand, writable: bool) -> Handled {
        let broker_name = req.ext_str("brokerName")?;
        let count = self.route.set_write_perm(broker_name, writable);
        tracing::info!(
            broker = broker_name,
            writable,
            topics = count,
            "write permission changed"
        );
        let key = if writable {
            "addTopicCount"
        } else {
            "wipeTopicCount"
        };
        Ok(ok(req).with_ext(key, count))
    }

    fn put_kv(&self, req: &RemotingCommand) -> Handled {
        let (ns, key, value) = (
            req.ext_str("namespace")?,
            req.ext_str("key")?,
            req.ext_str("value")?,
        );
        Ok(match self.kv.put(ns, key, value) {
            Ok(()) => ok(req),
            Err(e) => error(req, &format!("kv config applied but not persisted: {e}")),
        })
    }

    fn get_kv(&self, req: &RemotingCommand) -> Handled {
        let (ns, key) = (req.ext_str("namespace")?, req.ext_str("key")?);
        Ok(match self.kv.get(ns, key) {
            Some(value) => ok(req).with_ext("value", value),
            None => RemotingCommand::response_to(
                req,
                response_code::QUERY_NOT_FOUND,
                Some(format!("No config item, Namespace: {ns} Key: {key}")),
            ),
        })
    }

    fn delete_kv(&self, req: &RemotingCommand) -> Handled {
        let (ns, key) = (req.ext_str("namespace")?, req.ext_str("key")?);
        Ok(match self.kv.delete(ns, key) {
            Ok(()) => ok(req),
            Err(e) => error(req, &format!("kv config applied but not persisted: {e}")),
        })
    }

    fn kv_list(&self, req: &RemotingCommand) -> Handled {
        let ns = req.ext_str("namespace")?;
        match self.kv.list(ns) {
            Some(table) => body_ok(req, &table, JsonForm::Fastjson),
            None => Ok(RemotingCommand::response_to(
                req,
                response_code::QUERY_NOT_FOUND,
                Some(format!("No config item, Namespace: {ns}")),
            )),
        }
    }

    /// The settings as Java properties text (`key=value` lines).
    fn config_properties(&self) -> Vec<u8> {
        let c = &self.config;
        let kv_path = c
            .kv_config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!(
            "listenPort={}\nkvConfigPath={}\norderMessageEnable={}\nbrokerExpiryMs={}\nscanIntervalMs={}\n",
            c.listen_addr.port(),
            kv_path,
            self.order_message_enable.load(Ordering::Relaxed),
            c.broker_expiry_ms,
            c.scan_interval_ms,
        )
        .into_bytes()
    }

    /// Applies `orderMessageEnable` from a properties body; other keys are fixed at start.
    fn update_config(&self, req: &RemotingCommand) -> RemotingCommand {
        let text = String::from_utf8_lossy(&req.body);
        let mut ignored = Vec::new();
        for (key, value) in parse_properties(&text) {
            match key {
                "orderMessageEnable" => self
                    .order_message_enable
                    .store(value.eq_ignore_ascii_case("true"), Ordering::Relaxed),
                other => ignored.push(other.to_string()),
            }
        }
        if ignored.is_empty() {
            return ok(req);
        }
        tracing::info!(keys = ?ignored, "namesrv config keys not updatable at runtime ignored");
        RemotingCommand::response_to(
            req,
            response_code::SUCCESS,
            Some(format!("ignored (fixed at start): {}", ignored.join(","))),
        )
    }
}

impl RequestHandler for NamesrvProcessor {
    fn handle(
        &self,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        // Every request is answered from memory (KV writes touch one small file), so the work is
        // done here and the future only carries the answer.
        let resp = self.process(&channel, &request);
        Box::pin(async move { Some(resp) })
    }

    fn on_close(&self, channel: &Channel) {
        self.broker_channels.lock().unwrap().remove(&channel.id());
        self.route.on_channel_closed(channel.id());
    }
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response_code::SUCCESS, None)
}

fn error(req: &RemotingCommand, remark: &str) -> RemotingCommand {
    RemotingCommand::response_to(req, response_code::SYSTEM_ERROR, Some(remark.to_string()))
}

fn encode<T: Serialize>(value: &T, form: JsonForm) -> Result<Vec<u8>, HeaderError> {
    json_form::to_vec(value, form).map_err(|e| HeaderError(format!("encoding response: {e}")))
}

fn body_ok<T: Serialize>(req: &RemotingCommand, value: &T, form: JsonForm) -> Handled {
    Ok(ok(req).with_body(encode(value, form)?))
}

/// `key=value` (or `key:value`) lines of Java properties text; `#`/`!` lines are comments.
fn parse_properties(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            return None;
        }
        let split = line.find(['=', ':'])?;
        Some((line[..split].trim(), line[split + 1..].trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_lines() {
        let v: Vec<_> = parse_properties("# c\n a = 1\nb:2\n\n!x\nnoval").collect();
        assert_eq!(v, [("a", "1"), ("b", "2")]);
    }
}
