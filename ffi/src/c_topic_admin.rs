//! `CTopicAdmin.h` (rocketmq-rs addition): creating and deleting topics, as rocketmq-client-go
//! v2's `admin.CreateTopic` / `admin.DeleteTopic` (and Java's `mqadmin updateTopic` /
//! `deleteTopic`) do it: UPDATE_AND_CREATE_TOPIC to a broker; DELETE_TOPIC_IN_BROKER to the
//! brokers, then DELETE_TOPIC_IN_NAMESRV to the name servers.
//!
//! The calls borrow a producer handle for its settings (name servers, credentials, timeout);
//! it need not be started. Each call opens its own connections and closes them before it
//! returns. Topic names are used as given (no namespace is added).
//!
//! A created topic reaches the name servers with the broker's next registration (it asks for
//! one at once): a route lookup right after `CreateTopic` may still miss it for a moment.
//!
//! Status codes: `TOPIC_ADMIN_FAILED` (60) when a broker or name server refuses the request or
//! cannot be reached, or the producer has no name server; a NULL or dead handle, or a NULL
//! required argument, is `NULL_POINTER` (1).

use std::future::Future;
use std::os::raw::{c_char, c_int};

use rocketmq::client::instance::ClientInstance;
use rocketmq::client::{blocking, ClientError};
use rocketmq::protocol::{request_code, response_code, RemotingCommand};

use crate::boundary::{ffi_boundary, opt_str, req_str, status, FfiError, FfiResult};
use crate::c_common::CStatus;
use crate::c_producer::{client_settings, CProducer};
use crate::convert::client_error;

const FAILED: CStatus = CStatus::TOPIC_ADMIN_FAILED;

/// The header fields of UPDATE_AND_CREATE_TOPIC.
struct TopicSpec {
    topic: String,
    read_queue_nums: i32,
    write_queue_nums: i32,
    perm: i32,
    filter_type: String,
    sys_flag: i32,
    order: bool,
}

/// Runs `op` with a client made from the producer's settings, then closes its connections.
unsafe fn with_client<F, Fut>(producer: *mut CProducer, op: F) -> FfiResult<()>
where
    F: FnOnce(ClientInstance) -> Fut + Send,
    Fut: Future<Output = Result<(), ClientError>> + Send,
{
    // SAFETY: the handle is checked by the producer registry.
    let config = unsafe { client_settings(producer, FAILED) }?;
    let client = ClientInstance::new(config).map_err(client_error(FAILED))?;
    blocking::block_on(async move {
        let out = op(client.clone()).await;
        client.shutdown().await;
        out
    })
    .map_err(client_error(FAILED))
}

/// Sends `cmd` to `addr` and turns an error answer into an error.
async fn request(
    client: &ClientInstance,
    addr: &str,
    cmd: RemotingCommand,
) -> Result<(), ClientError> {
    let resp = client.invoke(addr, cmd, client.request_timeout()).await?;
    if resp.code == response_code::SUCCESS {
        Ok(())
    } else {
        Err(ClientError::Broker {
            code: resp.code,
            remark: resp.remark.unwrap_or_default(),
            addr: addr.to_string(),
        })
    }
}

async fn create_topic(
    client: &ClientInstance,
    broker_addr: &str,
    t: &TopicSpec,
) -> Result<(), ClientError> {
    let cmd = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC)
        .with_ext("topic", &t.topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", t.read_queue_nums)
        .with_ext("writeQueueNums", t.write_queue_nums)
        .with_ext("perm", t.perm)
        .with_ext("topicFilterType", &t.filter_type)
        .with_ext("topicSysFlag", t.sys_flag)
        .with_ext("order", t.order);
    request(client, broker_addr, cmd).await
}

/// The master brokers serving `topic` (of `cluster` only, when given), from its route.
async fn master_brokers(
    client: &ClientInstance,
    topic: &str,
    cluster: Option<&str>,
) -> Result<Vec<String>, ClientError> {
    let route = client.fetch_route(topic).await?;
    let masters: Vec<String> = route
        .broker_datas
        .iter()
        .filter(|b| cluster.is_none_or(|c| b.cluster == c))
        .filter_map(|b| b.broker_addrs.get(&0).cloned())
        .collect();
    if masters.is_empty() {
        return Err(ClientError::RouteNotFound {
            topic: topic.to_string(),
            detail: "no master broker serves it".to_string(),
        });
    }
    Ok(masters)
}

async fn delete_topic(
    client: &ClientInstance,
    topic: &str,
    cluster: Option<&str>,
    broker_addr: Option<&str>,
    namesrv_addrs: Option<&str>,
) -> Result<(), ClientError> {
    let brokers = match broker_addr {
        Some(a) => vec![a.to_string()],
        None => master_brokers(client, topic, cluster).await?,
    };
    for b in &brokers {
        let cmd =
            RemotingCommand::request(request_code::DELETE_TOPIC_IN_BROKER).with_ext("topic", topic);
        request(client, b, cmd).await?;
    }
    let namesrvs = match namesrv_addrs {
        Some(list) => list
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => client.config().namesrv_list()?,
    };
    for n in &namesrvs {
        let mut cmd = RemotingCommand::request(request_code::DELETE_TOPIC_IN_NAMESRV)
            .with_ext("topic", topic);
        if let Some(c) = cluster {
            cmd.set_ext("clusterName", c);
        }
        request(client, n, cmd).await?;
    }
    Ok(())
}

/// `Some(text)` for a non-empty string argument, `None` for NULL or "".
unsafe fn non_empty(p: *const c_char) -> FfiResult<Option<String>> {
    // SAFETY: forwarded contract: NULL or a C string alive for this call.
    Ok(unsafe { opt_str(p) }?.filter(|s| !s.trim().is_empty()))
}

/// rocketmq-rs addition: creates `topic`, or updates it if it exists, on the broker at
/// `brokerAddr` ("host:port"), using `producer`'s settings (it need not be started).
/// `readQueueNums` / `writeQueueNums` in 1..=1024 (rocketmq-client-go's default is 8), `perm`
/// 6 = read + write (2 write, 4 read), `topicFilterType` NULL for "SINGLE_TAG", `topicSysFlag`
/// 0, `order` non-zero for an ordered topic. `TOPIC_ADMIN_FAILED` (60) with the broker's
/// reason when it refuses.
#[no_mangle]
pub unsafe extern "C" fn CreateTopic(
    producer: *mut CProducer,
    brokerAddr: *const c_char,
    topic: *const c_char,
    readQueueNums: c_int,
    writeQueueNums: c_int,
    perm: c_int,
    topicFilterType: *const c_char,
    topicSysFlag: c_int,
    order: c_int,
) -> c_int {
    ffi_boundary!(FAILED as c_int, {
        status((|| {
            // SAFETY: C strings alive for this call.
            let broker_addr = unsafe { non_empty(brokerAddr) }?.ok_or_else(|| {
                FfiError::new(CStatus::NULL_POINTER, "brokerAddr is NULL or empty")
            })?;
            let spec = TopicSpec {
                topic: unsafe { req_str(topic, "topic") }?,
                read_queue_nums: readQueueNums,
                write_queue_nums: writeQueueNums,
                perm,
                filter_type: unsafe { non_empty(topicFilterType) }?
                    .unwrap_or_else(|| "SINGLE_TAG".to_string()),
                sys_flag: topicSysFlag,
                order: order != 0,
            };
            // SAFETY: the handle is checked by the producer registry.
            unsafe {
                with_client(producer, |c| async move {
                    create_topic(&c, &broker_addr, &spec).await
                })
            }
        })())
    })
}

/// rocketmq-rs addition: deletes `topic` from brokers, then from name servers, using
/// `producer`'s settings (it need not be started). `brokerAddr` NULL or "" means every master
/// broker in the topic's route (of `clusterName` only, when given); `nameServerAddrs`
/// ("host:port;host:port") NULL or "" means the producer's name servers; `clusterName` NULL
/// or "" means every cluster. `TOPIC_ADMIN_FAILED` (60) when a broker or name server refuses,
/// or the topic has no route and no `brokerAddr` was given.
#[no_mangle]
pub unsafe extern "C" fn DeleteTopic(
    producer: *mut CProducer,
    topic: *const c_char,
    clusterName: *const c_char,
    brokerAddr: *const c_char,
    nameServerAddrs: *const c_char,
) -> c_int {
    ffi_boundary!(FAILED as c_int, {
        status((|| {
            // SAFETY: C strings alive for this call.
            let topic = unsafe { req_str(topic, "topic") }?;
            let cluster = unsafe { non_empty(clusterName) }?;
            let broker_addr = unsafe { non_empty(brokerAddr) }?;
            let namesrvs = unsafe { non_empty(nameServerAddrs) }?;
            // SAFETY: the handle is checked by the producer registry.
            unsafe {
                with_client(producer, |c| async move {
                    delete_topic(
                        &c,
                        &topic,
                        cluster.as_deref(),
                        broker_addr.as_deref(),
                        namesrvs.as_deref(),
                    )
                    .await
                })
            }
        })())
    })
}
