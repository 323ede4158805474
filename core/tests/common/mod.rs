//! Helpers shared by the broker integration tests: a real embedded cluster on free ports and
//! raw remoting requests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};
use rocketmq::protocol::message::{encode_properties, MessageRecord};
use rocketmq::protocol::{request_code, RemotingCommand};
use rocketmq::remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn cluster(props: &str) -> EmbeddedCluster {
    EmbeddedCluster::start(EmbeddedConfig {
        broker_properties: props.to_string(),
        ..Default::default()
    })
    .await
    .expect("embedded cluster starts")
}

/// A cluster on a store directory the test keeps, so it can be restarted on the same store.
pub async fn cluster_in(dir: &std::path::Path, props: &str) -> EmbeddedCluster {
    EmbeddedCluster::start(EmbeddedConfig {
        store_dir: Some(dir.to_path_buf()),
        broker_properties: props.to_string(),
        ..Default::default()
    })
    .await
    .expect("embedded cluster starts on the kept store")
}

/// Records requests the broker sends to this client.
#[derive(Default)]
pub struct Inbox {
    pub received: Mutex<Vec<RemotingCommand>>,
}

impl RequestHandler for Inbox {
    fn handle(&self, _ch: Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        self.received.lock().unwrap().push(req.clone());
        Box::pin(async move { Some(RemotingCommand::response_to(&req, 0, None)) })
    }
}

pub fn client() -> (RemotingClient, Arc<Inbox>) {
    let inbox = Arc::new(Inbox::default());
    (RemotingClient::new(inbox.clone()), inbox)
}

pub fn props(pairs: &[(&str, &str)]) -> String {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    encode_properties(&m)
}

/// A SEND_MESSAGE_V2 request.
pub fn send_v2(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::request(request_code::SEND_MESSAGE_V2)
        .with_ext("a", "test_producer")
        .with_ext("b", topic)
        .with_ext("c", "TBW102")
        .with_ext("d", 4)
        .with_ext("e", queue_id)
        .with_ext("f", 0)
        .with_ext("g", rocketmq::protocol::now_ms())
        .with_ext("h", 0)
        .with_ext("i", properties)
        .with_ext("j", 0)
        .with_ext("k", false)
        .with_ext("m", false)
        .with_body(body.to_vec())
}

pub fn pull(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
    suspend_ms: i64,
) -> RemotingCommand {
    RemotingCommand::request(request_code::PULL_MESSAGE)
        .with_ext("consumerGroup", group)
        .with_ext("topic", topic)
        .with_ext("queueId", queue_id)
        .with_ext("queueOffset", offset)
        .with_ext("maxMsgNums", 32)
        .with_ext("sysFlag", sys_flag)
        .with_ext("commitOffset", 0)
        .with_ext("suspendTimeoutMillis", suspend_ms)
        .with_ext("subscription", "*")
        .with_ext("subVersion", 0)
        .with_ext("expressionType", "TAG")
}

pub fn records(resp: &RemotingCommand) -> Vec<MessageRecord> {
    MessageRecord::decode_all(&resp.body).expect("pull body decodes")
}

/// Waits until `f` holds, failing after `TIMEOUT`.
pub async fn wait_until<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + TIMEOUT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
