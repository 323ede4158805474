//! Messages as applications see them: `Message` to send, `MessageExt` received, `SendResult`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;

use bytes::Bytes;

use super::error::{ClientError, Result};
use crate::protocol::bodies::MessageQueue;
use crate::protocol::ids::offset_msg_id;
use crate::protocol::message::{decode_properties_with_room, property, sys_flag, MessageRecord};

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub topic: String,
    /// User flag, stored as is.
    pub flag: i32,
    pub body: Bytes,
    pub properties: HashMap<String, String>,
}

impl Message {
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            ..Default::default()
        }
    }

    pub fn with_tags(mut self, tags: &str) -> Self {
        self.set_tags(tags);
        self
    }
    pub fn set_tags(&mut self, tags: &str) {
        self.properties.insert(property::TAGS.into(), tags.into());
    }
    pub fn tags(&self) -> Option<&str> {
        self.properties.get(property::TAGS).map(String::as_str)
    }

    /// Business keys (indexed by the broker), space separated on the wire.
    pub fn with_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        self.properties
            .insert(property::KEYS.into(), joined.join(" "));
        self
    }
    pub fn keys(&self) -> Option<&str> {
        self.properties.get(property::KEYS).map(String::as_str)
    }

    /// Delay level 1..=18 (`1s 5s 10s 30s 1m ... 2h`).
    pub fn with_delay_level(mut self, level: i32) -> Self {
        self.properties
            .insert(property::DELAY_TIME_LEVEL.into(), level.to_string());
        self
    }
    pub fn delay_level(&self) -> i32 {
        self.property(property::DELAY_TIME_LEVEL)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Deliver at an absolute time (ms since epoch); needs a broker with the timer wheel (5.x).
    pub fn with_deliver_time_ms(mut self, at_ms: i64) -> Self {
        self.properties
            .insert(property::TIMER_DELIVER_MS.into(), at_ms.to_string());
        self
    }
    /// Deliver after a delay in ms; needs a broker with the timer wheel (5.x).
    pub fn with_delay_ms(mut self, ms: i64) -> Self {
        self.properties
            .insert(property::TIMER_DELAY_MS.into(), ms.to_string());
        self
    }
    /// Deliver after a delay in seconds; needs a broker with the timer wheel (5.x).
    pub fn with_delay_sec(mut self, secs: i64) -> Self {
        self.properties
            .insert(property::TIMER_DELAY_SEC.into(), secs.to_string());
        self
    }

    /// Whether the broker answers only once the message is stored (flushed/replicated per its
    /// config). Default true.
    pub fn with_wait_store_msg_ok(mut self, wait: bool) -> Self {
        self.properties
            .insert(property::WAIT_STORE_MSG_OK.into(), wait.to_string());
        self
    }

    pub fn with_property(mut self, k: &str, v: &str) -> Self {
        self.properties.insert(k.into(), v.into());
        self
    }
    pub fn set_property(&mut self, k: &str, v: &str) {
        self.properties.insert(k.into(), v.into());
    }
    pub fn property(&self, k: &str) -> Option<&str> {
        self.properties.get(k).map(String::as_str)
    }

    /// The client-generated unique id, once the message has been sent.
    pub fn uniq_id(&self) -> Option<&str> {
        self.property(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    }
}

/// A message as consumed: the stored record plus its ids, with the body decompressed.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    pub topic: String,
    pub flag: i32,
    pub body: Bytes,
    pub properties: HashMap<String, String>,
    /// The id applications use: `UNIQ_KEY` if the producer set one, else the offset id.
    pub msg_id: String,
    /// Store host + commitlog offset, hex.
    pub offset_msg_id: String,
    pub broker_name: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body_crc: i32,
    /// Bytes of the record in the commitlog (its TOTALSIZE field, as stored: a compressed
    /// body counts compressed).
    pub store_size: i32,
}

impl MessageExt {
    /// Builds from a stored record, decompressing the body when flagged.
    pub fn from_record(rec: MessageRecord, broker_name: &str) -> Result<MessageExt> {
        let crc = crate::protocol::message::body_crc(&rec.body);
        MessageExt::from_record_with_crc(rec, crc, broker_name, 0)
    }

    /// `from_record` given the body CRC the record carried (as `decode_with_crc` returns it),
    /// with room for `more_properties` properties to be added.
    pub fn from_record_with_crc(
        rec: MessageRecord,
        body_crc: i32,
        broker_name: &str,
        more_properties: usize,
    ) -> Result<MessageExt> {
        let mut m = MessageExt::as_stored(rec, body_crc, broker_name, more_properties);
        if m.sys_flag & sys_flag::COMPRESSED != 0 {
            m.body = Bytes::from(decompress(&m.body)?);
        }
        Ok(m)
    }

    /// Builds from a stored record, leaving the body as stored (compressed when flagged): a view
    /// for looking inside a broker.
    pub fn from_record_as_stored(rec: MessageRecord, broker_name: &str) -> MessageExt {
        let crc = crate::protocol::message::body_crc(&rec.body);
        MessageExt::as_stored(rec, crc, broker_name, 0)
    }

    fn as_stored(
        rec: MessageRecord,
        body_crc: i32,
        broker_name: &str,
        more_properties: usize,
    ) -> MessageExt {
        // The decoder checked that the record's TOTALSIZE is exactly this.
        let store_size = rec.encoded_len() as i32;
        let properties = decode_properties_with_room(&rec.properties, more_properties);
        let offset_msg_id = offset_msg_id(&rec.store_host, rec.physical_offset);
        let msg_id = properties
            .get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            .cloned()
            .unwrap_or_else(|| offset_msg_id.clone());
        MessageExt {
            topic: rec.topic,
            flag: rec.flag,
            body_crc,
            body: rec.body,
            properties,
            msg_id,
            offset_msg_id,
            broker_name: broker_name.to_string(),
            queue_id: rec.queue_id,
            queue_offset: rec.queue_offset,
            commit_log_offset: rec.physical_offset,
            sys_flag: rec.sys_flag,
            born_timestamp: rec.born_timestamp,
            born_host: rec.born_host,
            store_timestamp: rec.store_timestamp,
            store_host: rec.store_host,
            reconsume_times: rec.reconsume_times,
            prepared_transaction_offset: rec.prepared_transaction_offset,
            store_size,
        }
    }

    pub fn property(&self, k: &str) -> Option<&str> {
        self.properties.get(k).map(String::as_str)
    }
    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }
    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }
    pub fn message_queue(&self) -> MessageQueue {
        MessageQueue {
            topic: self.topic.clone(),
            broker_name: self.broker_name.clone(),
            queue_id: self.queue_id,
        }
    }
    /// The message as it could be sent again.
    pub fn to_message(&self) -> Message {
        Message {
            topic: self.topic.clone(),
            flag: self.flag,
            body: self.body.clone(),
            properties: self.properties.clone(),
        }
    }
}

/// How a sent message was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendStatus {
    SendOk,
    /// Stored on the master but not flushed in time (SYNC_FLUSH).
    FlushDiskTimeout,
    /// Stored on the master but the slave did not acknowledge in time (SYNC_MASTER).
    FlushSlaveTimeout,
    /// Stored on the master; no slave available (SYNC_MASTER).
    SlaveNotAvailable,
}

/// The acknowledgement of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status: SendStatus,
    /// `UNIQ_KEY` (comma separated for batches).
    pub msg_id: String,
    /// Broker's offset id(s), comma separated for batches.
    pub offset_msg_id: String,
    pub message_queue: MessageQueue,
    /// Consume-queue offset of the (first) message.
    pub queue_offset: i64,
    pub transaction_id: Option<String>,
    pub region_id: Option<String>,
}

/// zlib (java.util.zip Deflater format) at the given level.
pub fn compress(body: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(body.len() / 2),
        flate2::Compression::new(level),
    );
    enc.write_all(body)
        .and_then(|_| enc.finish())
        .map_err(|e| ClientError::Io(format!("compressing a message body failed: {e}")))
}

/// Inflates a zlib body (what Java, Go and we all write).
pub fn decompress(body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() * 3);
    flate2::read::ZlibDecoder::new(body)
        .read_to_end(&mut out)
        .map_err(|e| {
            ClientError::Io(format!(
                "a message body flagged as compressed is not valid zlib: {e}"
            ))
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_round_trips_and_zlib_header() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 17) as u8).collect();
        let c = compress(&body, 5).unwrap();
        assert!(c.len() < body.len());
        assert_eq!(c[0], 0x78, "zlib stream header");
        assert_eq!(decompress(&c).unwrap(), body);
        assert!(decompress(b"not zlib").is_err());
    }

    #[test]
    fn received_record_is_decompressed_and_identified() {
        let body = vec![b'x'; 5000];
        let mut rec = MessageRecord {
            topic: "T".into(),
            body: Bytes::from(compress(&body, 5).unwrap()),
            sys_flag: sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB,
            properties: "TAGS\u{1}A\u{2}UNIQ_KEY\u{1}ABC".into(),
            physical_offset: 99,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            ..Default::default()
        };
        let m = MessageExt::from_record(rec.clone(), "b").unwrap();
        assert_eq!(m.body.len(), 5000);
        assert_eq!(m.msg_id, "ABC");
        assert_eq!(m.tags(), Some("A"));
        rec.properties.clear();
        let m = MessageExt::from_record(rec, "b").unwrap();
        assert_eq!(m.msg_id, m.offset_msg_id);
        assert_eq!(m.msg_id.len(), 32);
    }

    #[test]
    fn store_size_is_the_stored_record_size() {
        // Compressed, so the inflated body is longer than the stored one: the size must be
        // the commitlog record's, not one recomputed from what the application sees.
        let rec = MessageRecord {
            topic: "TopicA".into(),
            body: Bytes::from(compress(&[b'y'; 3000], 5).unwrap()),
            sys_flag: sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB,
            properties: "TAGS\u{1}A".into(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            born_host: "[::1]:4000".parse().unwrap(),
            ..Default::default()
        };
        let wire = Bytes::from(rec.encode());
        let (decoded, total) = MessageRecord::decode(&wire, true).unwrap();
        assert_eq!(total, wire.len());
        let m = MessageExt::from_record(decoded, "b").unwrap();
        assert_eq!(m.store_size as usize, total);
        assert_eq!(m.body.len(), 3000);
        assert!((m.store_size as usize) < 3000);
    }

    #[test]
    fn message_builders_set_properties() {
        let m = Message::new("T", "b")
            .with_tags("A")
            .with_keys(["k1", "k2"])
            .with_delay_level(3)
            .with_deliver_time_ms(5)
            .with_delay_sec(2)
            .with_delay_ms(7);
        assert_eq!(m.keys(), Some("k1 k2"));
        assert_eq!(m.delay_level(), 3);
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("5"));
        assert_eq!(m.property("TIMER_DELAY_SEC"), Some("2"));
        assert_eq!(m.property("TIMER_DELAY_MS"), Some("7"));
    }
}
