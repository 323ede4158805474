//! The body of REGISTER_BROKER: a broker's topic configs and data version, as JSON or in the
//! zlib-compressed binary form brokers send with `compressedRegister=true`.
//!
//! Compressed form (all integers big-endian i32), deflated as one zlib stream:
//! `len, DataVersion JSON | topicCount | (len, "<name> <read> <write> <perm> <filterType>")* |
//! len, filter server JSON array`. Newer brokers may append more; it is ignored.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::protocol::bodies::{DataVersion, RegisterBrokerBody, TopicConfig};
use crate::protocol::json::from_fastjson;
use crate::protocol::message::body_crc;

/// Largest inflated compressed body we accept: bounds the memory a peer can make us allocate.
pub const REGISTER_BODY_MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Why a registration body was refused; the text becomes the response remark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterBodyError(pub String);

impl std::fmt::Display for RegisterBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for RegisterBodyError {}

fn err(msg: impl Into<String>) -> RegisterBodyError {
    RegisterBodyError(msg.into())
}

/// Checks `bodyCrc32` (masked CRC-32; 0 means the sender skipped it).
pub fn crc_matches(body: &[u8], body_crc32: i32) -> bool {
    body_crc32 == 0 || body_crc(body) == body_crc32
}

/// Decodes a registration body. An empty body means "no topics" with a zero data version.
pub fn decode(body: &[u8], compressed: bool) -> Result<RegisterBrokerBody, RegisterBodyError> {
    if body.is_empty() {
        return Ok(RegisterBrokerBody::default());
    }
    if !compressed {
        return from_fastjson(body).map_err(|e| err(format!("register broker body: {e}")));
    }
    let mut inflated = Vec::new();
    ZlibDecoder::new(body)
        .take(REGISTER_BODY_MAX_INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| err(format!("compressed register broker body: {e}")))?;
    if inflated.len() > REGISTER_BODY_MAX_INFLATED_BYTES {
        return Err(err(format!(
            "compressed register broker body inflates beyond {REGISTER_BODY_MAX_INFLATED_BYTES} bytes"
        )));
    }
    decode_inflated(&inflated)
}

fn decode_inflated(mut src: &[u8]) -> Result<RegisterBrokerBody, RegisterBodyError> {
    let mut out = RegisterBrokerBody::default();
    let version = take_chunk(&mut src, "dataVersion")?;
    out.topic_config_serialize_wrapper.data_version =
        from_fastjson::<DataVersion>(version).map_err(|e| err(format!("dataVersion: {e}")))?;
    let count = take_i32(&mut src, "topic count")?;
    for _ in 0..count {
        let text = take_chunk(&mut src, "topic config")?;
        let tc = parse_topic_config(text)?;
        out.topic_config_serialize_wrapper
            .topic_config_table
            .insert(tc.topic_name.clone(), tc);
    }
    let filters = take_chunk(&mut src, "filter server list")?;
    if !filters.is_empty() && filters != b"null" {
        out.filter_server_list =
            from_fastjson(filters).map_err(|e| err(format!("filter server list: {e}")))?;
    }
    Ok(out)
}

fn take_i32(src: &mut &[u8], what: &str) -> Result<i32, RegisterBodyError> {
    if src.len() < 4 {
        return Err(err(format!(
            "compressed register broker body truncated at {what}"
        )));
    }
    let (head, rest) = src.split_at(4);
    *src = rest;
    Ok(i32::from_be_bytes(head.try_into().unwrap()))
}

fn take_chunk<'a>(src: &mut &'a [u8], what: &str) -> Result<&'a [u8], RegisterBodyError> {
    let len = take_i32(src, what)?;
    if len < 0 || len as usize > src.len() {
        return Err(err(format!(
            "compressed register broker body: bad {what} length {len}"
        )));
    }
    let (chunk, rest) = src.split_at(len as usize);
    *src = rest;
    Ok(chunk)
}

/// Java `TopicConfig.decode`: `name read write perm filterType [attributes…]`.
fn parse_topic_config(text: &[u8]) -> Result<TopicConfig, RegisterBodyError> {
    let text = std::str::from_utf8(text).map_err(|_| err("topic config is not UTF-8"))?;
    let fields: Vec<&str> = text.split(' ').collect();
    if fields.len() < 5 {
        return Err(err(format!(
            "topic config '{text}' has fewer than 5 fields"
        )));
    }
    let num = |i: usize| -> Result<i32, RegisterBodyError> {
        fields[i]
            .parse()
            .map_err(|_| err(format!("topic config '{text}': bad number '{}'", fields[i])))
    };
    Ok(TopicConfig {
        topic_name: fields[0].to_string(),
        read_queue_nums: num(1)?,
        write_queue_nums: num(2)?,
        perm: num(3)?,
        topic_filter_type: fields[4].to_string(),
        ..Default::default()
    })
}

/// Encodes the compressed form (as a broker with `compressedRegister=true` does). Topic flags
/// other than queue numbers, perm and filter type do not travel in this form.
pub fn encode_compressed(body: &RegisterBrokerBody) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let wrapper = &body.topic_config_serialize_wrapper;
    let mut raw = Vec::new();
    chunk(
        &mut raw,
        &serde_json::to_vec(&wrapper.data_version).unwrap_or_default(),
    );
    raw.extend_from_slice(&(wrapper.topic_config_table.len() as i32).to_be_bytes());
    for tc in wrapper.topic_config_table.values() {
        let text = format!(
            "{} {} {} {} {}",
            tc.topic_name, tc.read_queue_nums, tc.write_queue_nums, tc.perm, tc.topic_filter_type
        );
        chunk(&mut raw, text.as_bytes());
    }
    chunk(
        &mut raw,
        &serde_json::to_vec(&body.filter_server_list).unwrap_or_default(),
    );
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&raw);
    z.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::bodies::PERM_READ;

    fn sample() -> RegisterBrokerBody {
        let mut b = RegisterBrokerBody::default();
        let w = &mut b.topic_config_serialize_wrapper;
        w.data_version = DataVersion {
            timestamp: 1_700_000_000_000,
            counter: 3,
        };
        w.topic_config_table
            .insert("T".into(), TopicConfig::new("T", 4, PERM_READ));
        w.topic_config_table
            .insert("TBW102".into(), TopicConfig::new("TBW102", 8, 7));
        b.filter_server_list = vec!["h:1".into()];
        b
    }

    #[test]
    fn compressed_round_trip() {
        let body = sample();
        let back = decode(&encode_compressed(&body), true).unwrap();
        let w = &back.topic_config_serialize_wrapper;
        assert_eq!(
            w.data_version,
            body.topic_config_serialize_wrapper.data_version
        );
        assert_eq!(
            w.topic_config_table,
            body.topic_config_serialize_wrapper.topic_config_table
        );
        assert_eq!(back.filter_server_list, ["h:1"]);
    }

    #[test]
    fn json_body_as_java_writes_it() {
        let json = br#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}"#;
        let b = decode(json, false).unwrap();
        let w = &b.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 3);
        assert_eq!(w.topic_config_table["TopicTest"].write_queue_nums, 4);
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert!(decode(b"{not json", false).is_err());
        assert!(decode(b"\x78\x9c garbage", true).is_err());
        let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
        z.write_all(&[0, 0, 0, 100, b'{']).unwrap();
        assert!(decode(&z.finish().unwrap(), true).is_err());
        assert!(parse_topic_config(b"T 1 x 6 SINGLE_TAG").is_err());
        assert_eq!(decode(b"", false).unwrap().filter_server_list.len(), 0);
    }

    #[test]
    fn crc_zero_skips_check() {
        assert!(crc_matches(b"abc", 0));
        assert!(crc_matches(b"abc", body_crc(b"abc")));
        assert!(!crc_matches(b"abc", body_crc(b"abd")));
    }
}
