//! Message encodings: the properties string, the stored-message record (commitlog = pull wire
//! format), the batch body, and well-known property names and flags.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::{Buf, BufMut, Bytes};

use super::command::DecodeError;

pub const MESSAGE_MAGIC: i32 = 0xDAA320A7_u32 as i32;
pub const BLANK_MAGIC: i32 = 0xCBD43194_u32 as i32;

/// Property names (Java `MessageConst`).
pub mod property {
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const WAIT_STORE_MSG_OK: &str = "WAIT";
    pub const DELAY_TIME_LEVEL: &str = "DELAY";
    pub const UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
    pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
    pub const PRODUCER_GROUP: &str = "PGROUP";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QUEUE_ID: &str = "REAL_QID";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const CLUSTER: &str = "CLUSTER";
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    pub const TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    pub const SHARDING_KEY: &str = "__SHARDINGKEY";
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    pub const MSG_REGION: &str = "MSG_REGION";
    pub const TRACE_SWITCH: &str = "TRACE_ON";
    pub const INSTANCE_ID: &str = "INSTANCE_ID";
    pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
    pub const TRANSACTION_ID: &str = "__transactionId__";
    // Request-reply (RocketMQ 4.6+).
    /// Matches a reply to its request (a UUID chosen by the requester).
    pub const CORRELATION_ID: &str = "CORRELATION_ID";
    /// Client id of the requester: where the broker pushes the reply.
    pub const MESSAGE_REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
    /// The requester's timeout (ms from the Java client, s from the Go client).
    pub const MESSAGE_TTL: &str = "TTL";
    /// Set by the requester when the reply arrives (ms since the epoch).
    pub const REPLY_MESSAGE_ARRIVE_TIME: &str = "ARRIVE_TIME";
    /// Set by the broker when it pushes the reply (ms since the epoch).
    pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
    /// `reply` on a reply message (see `REPLY_MESSAGE_FLAG`).
    pub const MESSAGE_TYPE: &str = "MSG_TYPE";
}

/// The `MSG_TYPE` of a reply message.
pub const REPLY_MESSAGE_FLAG: &str = "reply";

/// The topic replies of a cluster go to (the broker creates it at start, 1 queue).
pub fn reply_topic(cluster_name: &str) -> String {
    format!("{cluster_name}_REPLY_TOPIC")
}

/// `MessageSysFlag` bits.
pub mod sys_flag {
    pub const COMPRESSED: i32 = 0x1;
    pub const MULTI_TAGS: i32 = 0x2;
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    pub const BORNHOST_V6: i32 = 0x10;
    pub const STOREHOST_V6: i32 = 0x20;
    pub const COMPRESSION_ZLIB: i32 = 0x300;

    pub fn transaction_type(flag: i32) -> i32 {
        flag & 0xC
    }
    pub fn with_transaction_type(flag: i32, ty: i32) -> i32 {
        (flag & !0xC) | ty
    }
}

const NAME_VALUE_SEPARATOR: char = '\u{1}';
const PROPERTY_SEPARATOR: char = '\u{2}';

/// Serializes properties as `k\u1v\u2k\u1v` (no trailing separator). Sorted for determinism.
pub fn encode_properties(props: &HashMap<String, String>) -> String {
    let mut keys: Vec<&String> = props.keys().collect();
    keys.sort();
    let mut s = String::new();
    for k in keys {
        if !s.is_empty() {
            s.push(PROPERTY_SEPARATOR);
        }
        s.push_str(k);
        s.push(NAME_VALUE_SEPARATOR);
        s.push_str(&props[k]);
    }
    s
}

/// Parses a properties string the way Java does: empty keys or values are dropped.
pub fn decode_properties(s: &str) -> HashMap<String, String> {
    decode_properties_with_room(s, 0)
}

/// `decode_properties` into a map with room for `more` further properties, so that adding
/// them does not grow it.
pub fn decode_properties_with_room(s: &str, more: usize) -> HashMap<String, String> {
    let items = s
        .bytes()
        .filter(|&b| b == NAME_VALUE_SEPARATOR as u8)
        .count();
    let mut map = HashMap::with_capacity(items + more);
    for item in s.split(PROPERTY_SEPARATOR) {
        if let Some((k, v)) = item.split_once(NAME_VALUE_SEPARATOR) {
            if !k.is_empty() && !v.is_empty() {
                map.insert(k.to_string(), v.to_string());
            }
        }
    }
    map
}

/// Java `String.hashCode()` over UTF-16 code units, wrapping.
pub fn java_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    h
}

/// Tags code stored in the consume queue: hash of the TAGS property, 0 when there is none.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_hash(t) as i64,
        _ => 0,
    }
}

/// Body CRC: IEEE CRC-32 with the sign bit cleared.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Length of a stored record with these parts.
pub fn stored_len(sys_flag: i32, body_len: usize, topic_len: usize, props_len: usize) -> usize {
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + host_len(sys_flag & sys_flag::BORNHOST_V6 != 0)
        + 8
        + host_len(sys_flag & sys_flag::STOREHOST_V6 != 0)
        + 4
        + 8
        + 4
        + body_len
        + 1
        + topic_len
        + 2
        + props_len
}

/// Everything of a stored message but its position (queue offset, physical offset, store time),
/// which the store fills in when it appends.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: Bytes,
    /// Serialized properties (`encode_properties`).
    pub properties: String,
}

impl Default for MessageRecord {
    fn default() -> Self {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        MessageRecord {
            topic: String::new(),
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified,
            store_timestamp: 0,
            store_host: unspecified,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::new(),
            properties: String::new(),
        }
    }
}

fn put_host(dst: &mut impl BufMut, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => dst.put_slice(&ip.octets()),
        IpAddr::V6(ip) => dst.put_slice(&ip.octets()),
    }
    dst.put_i32(addr.port() as i32);
}

fn get_host(src: &mut Bytes, v6: bool) -> SocketAddr {
    let ip = if v6 {
        let mut o = [0u8; 16];
        src.copy_to_slice(&mut o);
        IpAddr::from(o)
    } else {
        let mut o = [0u8; 4];
        src.copy_to_slice(&mut o);
        IpAddr::from(o)
    };
    SocketAddr::new(ip, src.get_i32() as u16)
}

impl MessageRecord {
    /// The sys flag with the host-family bits matching the addresses.
    pub fn normalized_sys_flag(&self) -> i32 {
        let mut f = self.sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
        if self.born_host.is_ipv6() {
            f |= sys_flag::BORNHOST_V6;
        }
        if self.store_host.is_ipv6() {
            f |= sys_flag::STOREHOST_V6;
        }
        f
    }

    /// Bytes this record takes when stored.
    pub fn encoded_len(&self) -> usize {
        stored_len(
            self.normalized_sys_flag(),
            self.body.len(),
            self.topic.len(),
            self.properties.len(),
        )
    }

    /// Checks the lengths that the stored layout can carry.
    pub fn validate(&self) -> Result<(), String> {
        if self.topic.is_empty() || self.topic.len() > super::limits::TOPIC_MAX_BYTES {
            return Err(format!(
                "topic length {} is not within 1..={}",
                self.topic.len(),
                super::limits::TOPIC_MAX_BYTES
            ));
        }
        if self.properties.len() > super::limits::PROPERTIES_MAX_BYTES {
            return Err(format!(
                "properties of {} bytes exceed the {} byte limit",
                self.properties.len(),
                super::limits::PROPERTIES_MAX_BYTES
            ));
        }
        Ok(())
    }

    /// Writes the record in RocketMQ's stored layout. `validate` must have passed.
    pub fn encode_into(&self, dst: &mut impl BufMut) {
        let sys_flag = self.normalized_sys_flag();
        dst.put_i32(self.encoded_len() as i32);
        dst.put_i32(MESSAGE_MAGIC);
        dst.put_i32(body_crc(&self.body));
        dst.put_i32(self.queue_id);
        dst.put_i32(self.flag);
        dst.put_i64(self.queue_offset);
        dst.put_i64(self.physical_offset);
        dst.put_i32(sys_flag);
        dst.put_i64(self.born_timestamp);
        put_host(dst, &self.born_host);
        dst.put_i64(self.store_timestamp);
        put_host(dst, &self.store_host);
        dst.put_i32(self.reconsume_times);
        dst.put_i64(self.prepared_transaction_offset);
        dst.put_i32(self.body.len() as i32);
        dst.put_slice(&self.body);
        dst.put_i8(self.topic.len() as i8);
        dst.put_slice(self.topic.as_bytes());
        dst.put_i16(self.properties.len() as i16);
        dst.put_slice(self.properties.as_bytes());
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut v);
        v
    }

    /// Decodes one record from the start of `src` (which may hold more). Checks the magic code and
    /// the size; checks the body CRC when `check_crc`. Returns the record and its length.
    pub fn decode(src: &Bytes, check_crc: bool) -> Result<(MessageRecord, usize), DecodeError> {
        Self::decode_with_crc(src, check_crc).map(|(m, n, _)| (m, n))
    }

    /// `decode`, also returning the body CRC the record carries.
    pub fn decode_with_crc(
        src: &Bytes,
        check_crc: bool,
    ) -> Result<(MessageRecord, usize, i32), DecodeError> {
        let err = |m: String| DecodeError(m);
        if src.len() < 8 {
            return Err(err(format!(
                "{} bytes cannot hold a message header",
                src.len()
            )));
        }
        let mut b = src.clone();
        let total = b.get_i32();
        let magic = b.get_i32();
        if magic != MESSAGE_MAGIC {
            return Err(err(format!("bad magic code {magic:#x}")));
        }
        if total < 0 || total as usize > src.len() {
            return Err(err(format!(
                "total size {total} exceeds the {} bytes available",
                src.len()
            )));
        }
        let mut b = src.slice(8..total as usize);
        let fixed = 4 + 4 + 4 + 8 + 8 + 4;
        if b.len() < fixed {
            return Err(err("record truncated in fixed fields".into()));
        }
        let crc = b.get_i32();
        let queue_id = b.get_i32();
        let flag = b.get_i32();
        let queue_offset = b.get_i64();
        let physical_offset = b.get_i64();
        let sys_flag = b.get_i32();
        let born_v6 = sys_flag & sys_flag::BORNHOST_V6 != 0;
        let store_v6 = sys_flag & sys_flag::STOREHOST_V6 != 0;
        if b.len() < 8 + host_len(born_v6) + 8 + host_len(store_v6) + 4 + 8 + 4 {
            return Err(err("record truncated in host fields".into()));
        }
        let born_timestamp = b.get_i64();
        let born_host = get_host(&mut b, born_v6);
        let store_timestamp = b.get_i64();
        let store_host = get_host(&mut b, store_v6);
        let reconsume_times = b.get_i32();
        let prepared_transaction_offset = b.get_i64();
        let body_len = b.get_i32();
        if body_len < 0 || body_len as usize + 1 > b.len() {
            return Err(err(format!("body length {body_len} out of range")));
        }
        let body = b.split_to(body_len as usize);
        let topic_len = b.get_i8();
        if topic_len < 0 || topic_len as usize + 2 > b.len() {
            return Err(err(format!("topic length {topic_len} out of range")));
        }
        let topic = String::from_utf8(b.split_to(topic_len as usize).to_vec())
            .map_err(|_| err("topic is not UTF-8".into()))?;
        let props_len = b.get_i16();
        if props_len < 0 || props_len as usize > b.len() {
            return Err(err(format!("properties length {props_len} out of range")));
        }
        let properties = String::from_utf8(b.split_to(props_len as usize).to_vec())
            .map_err(|_| err("properties are not UTF-8".into()))?;
        let expected = stored_len(sys_flag, body.len(), topic.len(), properties.len());
        if expected != total as usize {
            return Err(err(format!(
                "total size {total} disagrees with the computed {expected}"
            )));
        }
        if check_crc && body_crc(&body) != crc {
            return Err(err(format!(
                "body CRC mismatch at physical offset {physical_offset}"
            )));
        }
        Ok((
            MessageRecord {
                topic,
                queue_id,
                flag,
                queue_offset,
                physical_offset,
                sys_flag,
                born_timestamp,
                born_host,
                store_timestamp,
                store_host,
                reconsume_times,
                prepared_transaction_offset,
                body,
                properties,
            },
            total as usize,
            crc,
        ))
    }

    /// Decodes a concatenation of records (a pull or query response body).
    pub fn decode_all(src: &Bytes) -> Result<Vec<MessageRecord>, DecodeError> {
        Ok(Self::decode_all_with_crc(src)?
            .into_iter()
            .map(|(m, _)| m)
            .collect())
    }

    /// `decode_all`, each record with the body CRC it carries (unchecked).
    pub fn decode_all_with_crc(src: &Bytes) -> Result<Vec<(MessageRecord, i32)>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < src.len() {
            let (m, n, crc) = MessageRecord::decode_with_crc(&src.slice(pos..), false)?;
            out.push((m, crc));
            pos += n;
        }
        Ok(out)
    }

    pub fn properties_map(&self) -> HashMap<String, String> {
        decode_properties(&self.properties)
    }
}

/// One message inside a SEND_BATCH_MESSAGE body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub flag: i32,
    pub body: Bytes,
    pub properties: String,
}

/// Encodes a batch body (magic and CRC written as 0, as clients do).
pub fn encode_batch(items: &[BatchItem]) -> Vec<u8> {
    let mut v = Vec::new();
    for it in items {
        v.put_i32((4 + 4 + 4 + 4 + 4 + it.body.len() + 2 + it.properties.len()) as i32);
        v.put_i32(0);
        v.put_i32(0);
        v.put_i32(it.flag);
        v.put_i32(it.body.len() as i32);
        v.put_slice(&it.body);
        v.put_i16(it.properties.len() as i16);
        v.put_slice(it.properties.as_bytes());
    }
    v
}

/// Decodes a batch body.
pub fn decode_batch(src: &Bytes) -> Result<Vec<BatchItem>, DecodeError> {
    let err = |m: String| DecodeError(m);
    let mut b = src.clone();
    let mut out = Vec::new();
    while b.has_remaining() {
        if b.len() < 20 {
            return Err(err("batch entry truncated".into()));
        }
        let total = b.get_i32();
        let _magic = b.get_i32();
        let _crc = b.get_i32();
        let flag = b.get_i32();
        let body_len = b.get_i32();
        if body_len < 0 || body_len as usize + 2 > b.len() {
            return Err(err(format!("batch body length {body_len} out of range")));
        }
        let body = b.split_to(body_len as usize);
        let props_len = b.get_i16();
        if props_len < 0 || props_len as usize > b.len() {
            return Err(err(format!(
                "batch properties length {props_len} out of range"
            )));
        }
        let properties = String::from_utf8(b.split_to(props_len as usize).to_vec())
            .map_err(|_| err("batch properties are not UTF-8".into()))?;
        if total as usize != 22 + body.len() + properties.len() {
            return Err(err(format!(
                "batch entry size {total} disagrees with its contents"
            )));
        }
        out.push(BatchItem {
            flag,
            body,
            properties,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("TagA"), 2598919);
        assert_eq!(java_hash("hello"), 99162322);
        // Overflowing, non-ASCII (Java: "中文标签".hashCode() == 642390937 computed over UTF-16).
        assert_eq!(java_hash("Aa"), java_hash("BB"));
    }

    #[test]
    fn properties_round_trip_and_drop_empty() {
        let mut m = HashMap::new();
        m.insert("TAGS".to_string(), "TagA".to_string());
        m.insert("KEYS".to_string(), "k1 k2".to_string());
        let s = encode_properties(&m);
        assert!(!s.ends_with('\u{2}'));
        assert_eq!(decode_properties(&s), m);
        let odd = decode_properties("\u{1}x\u{2}k\u{1}\u{2}a\u{1}b\u{2}\u{2}");
        assert_eq!(odd.len(), 1);
        assert_eq!(odd["a"], "b");
    }

    #[test]
    fn stored_record_round_trips_v4_and_v6() {
        for v6 in [false, true] {
            let host: SocketAddr = if v6 {
                "[::1]:10911".parse().unwrap()
            } else {
                "127.0.0.1:10911".parse().unwrap()
            };
            let r = MessageRecord {
                topic: "TopicTest".into(),
                queue_id: 3,
                flag: 7,
                queue_offset: 99,
                physical_offset: 1234,
                sys_flag: 0,
                born_timestamp: 1_700_000_000_000,
                born_host: "10.0.0.1:5555".parse().unwrap(),
                store_timestamp: 1_700_000_000_001,
                store_host: host,
                reconsume_times: 2,
                prepared_transaction_offset: 0,
                body: Bytes::from_static(b"body\0with nul"),
                properties: "TAGS\u{1}TagA".into(),
            };
            let enc = Bytes::from(r.encode());
            assert_eq!(enc.len(), r.encoded_len());
            let (d, n) = MessageRecord::decode(&enc, true).unwrap();
            assert_eq!(n, enc.len());
            assert_eq!(d.body, r.body);
            assert_eq!(d.topic, r.topic);
            assert_eq!(d.store_host, host);
            assert_eq!(d.sys_flag, r.normalized_sys_flag());
            if !v6 {
                assert_eq!(
                    enc.len(),
                    91 + r.body.len() + r.topic.len() + r.properties.len()
                );
            }
        }
    }

    #[test]
    fn crc_mismatch_and_truncation_are_detected() {
        let r = MessageRecord {
            topic: "T".into(),
            body: Bytes::from_static(b"abc"),
            ..Default::default()
        };
        let mut enc = r.encode();
        let n = enc.len();
        assert!(MessageRecord::decode(&Bytes::from(enc[..n - 1].to_vec()), true).is_err());
        let body_pos = n - 1 - 1 - 2 - 3; // body, topic len, topic, props len
        enc[body_pos] ^= 1;
        assert!(MessageRecord::decode(&Bytes::from(enc.clone()), true).is_err());
        assert!(MessageRecord::decode(&Bytes::from(enc), false).is_ok());
    }

    #[test]
    fn batch_round_trips() {
        let items = vec![
            BatchItem {
                flag: 0,
                body: Bytes::from_static(b"a"),
                properties: "UNIQ_KEY\u{1}1".into(),
            },
            BatchItem {
                flag: 1,
                body: Bytes::from_static(b"bb"),
                properties: String::new(),
            },
        ];
        let enc = Bytes::from(encode_batch(&items));
        assert_eq!(decode_batch(&enc).unwrap(), items);
        assert!(decode_batch(&enc.slice(..enc.len() - 1)).is_err());
    }
}
