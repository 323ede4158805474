//! `CTopicAdmin.h` (rocketmq-rs addition): creating, deleting and listing topics, as
//! rocketmq-client-go v2's `admin.CreateTopic` / `DeleteTopic` / `FetchAllTopicList` (and Java's
//! `mqadmin updateTopic` / `deleteTopic` / `topicList`) do it: UPDATE_AND_CREATE_TOPIC to a
//! broker; DELETE_TOPIC_IN_BROKER to the brokers, then DELETE_TOPIC_IN_NAMESRV to the name
//! servers; GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
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
use std::os::raw::{c_char, c_int, c_void};
use std::{mem, ptr};

use rocketmq::client::instance::ClientInstance;
use rocketmq::client::{blocking, ClientError};
use rocketmq::protocol::bodies::TopicList;
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::{request_code, response_code, RemotingCommand};

use crate::boundary::{c_string, ffi_boundary, opt_str, req_str, status, FfiError, FfiResult};
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
unsafe fn with_client<T, F, Fut>(producer: *mut CProducer, op: F) -> FfiResult<T>
where
    T: Send,
    F: FnOnce(ClientInstance) -> Fut + Send,
    Fut: Future<Output = Result<T, ClientError>> + Send,
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

/// The topics of the first name server that answers, sorted.
async fn topic_list(client: &ClientInstance) -> Result<Vec<String>, ClientError> {
    let mut last_err = None;
    for addr in client.config().namesrv_list()? {
        let cmd = RemotingCommand::request(request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let resp = match client.invoke(&addr, cmd, client.request_timeout()).await {
            Ok(r) => r,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let refused = |code: i32, remark: String| ClientError::Broker {
            code,
            remark,
            addr: addr.clone(),
        };
        if resp.code != response_code::SUCCESS {
            last_err = Some(refused(resp.code, resp.remark.unwrap_or_default()));
            continue;
        }
        let mut topics = from_fastjson::<TopicList>(&resp.body)
            .map_err(|e| {
                refused(
                    response_code::SYSTEM_ERROR,
                    format!("unparsable topic list: {e}"),
                )
            })?
            .topic_list;
        topics.sort();
        return Ok(topics);
    }
    Err(last_err.unwrap_or_else(|| ClientError::ClientState("no name server".into())))
}

/// Writes `names` as one `malloc`ed block into `*out`: a NULL-terminated table of pointers to
/// the NUL-terminated names, which follow the table in the same block (so one `free` releases
/// all).
///
/// # Safety
/// `out` and `size` are non-NULL and writable.
unsafe fn write_string_array(
    names: &[String],
    out: *mut *mut *mut c_char,
    size: *mut c_int,
) -> FfiResult<()> {
    let texts: Vec<_> = names.iter().map(|n| c_string(n)).collect();
    let table_bytes = (texts.len() + 1) * mem::size_of::<*mut c_char>();
    let text_bytes: usize = texts.iter().map(|t| t.as_bytes_with_nul().len()).sum();
    // SAFETY: plain allocation, checked for NULL below.
    let block = unsafe { crate::abi::malloc(table_bytes + text_bytes) } as *mut u8;
    if block.is_null() {
        return Err(FfiError::new(CStatus::MALLOC_FAILED, "out of memory"));
    }
    let table = block as *mut *mut c_char;
    // SAFETY: `block` holds the table (malloc aligns it for pointers) followed by `text_bytes`
    // bytes, exactly what is written below.
    unsafe {
        let mut text = block.add(table_bytes);
        for (i, t) in texts.iter().enumerate() {
            let bytes = t.as_bytes_with_nul();
            ptr::copy_nonoverlapping(bytes.as_ptr(), text, bytes.len());
            table.add(i).write(text as *mut c_char);
            text = text.add(bytes.len());
        }
        table.add(texts.len()).write(ptr::null_mut());
        *out = table;
        *size = texts.len() as c_int;
    }
    Ok(())
}

/// rocketmq-rs addition: every topic the name servers know (of all clusters, system topics
/// included), sorted, using `producer`'s settings (it need not be started). `*topics` gets one
/// `malloc`ed block: `*size` names followed by a NULL entry; release it with
/// `ReleaseTopicList` (or `free`). `TOPIC_ADMIN_FAILED` (60) when no name server answers.
#[no_mangle]
pub unsafe extern "C" fn FetchTopicList(
    producer: *mut CProducer,
    topics: *mut *mut *mut c_char,
    size: *mut c_int,
) -> c_int {
    ffi_boundary!(FAILED as c_int, {
        status((|| {
            if topics.is_null() || size.is_null() {
                return Err(FfiError::null("topics/size"));
            }
            // SAFETY: the handle is checked by the producer registry.
            let names = unsafe { with_client(producer, |c| async move { topic_list(&c).await }) }?;
            // SAFETY: out-pointers checked non-NULL above.
            unsafe { write_string_array(&names, topics, size) }
        })())
    })
}

/// rocketmq-rs addition: frees what `FetchTopicList` returned. NULL is `NULL_POINTER` (1).
#[no_mangle]
pub unsafe extern "C" fn ReleaseTopicList(topics: *mut *mut c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if topics.is_null() {
            return CStatus::NULL_POINTER as c_int;
        }
        // SAFETY: one block from `malloc` in `write_string_array` (the documented contract).
        unsafe { crate::abi::free(topics as *mut c_void) };
        CStatus::OK as c_int
    })
}
