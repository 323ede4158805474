//! `RemotingCommand`: one frame of RocketMQ remoting, with its header in JSON or ROCKETMQ binary form.
//!
//! Frame: `i32 length | i32 (serializeType << 24 | headerLen) | header | body`, where `length`
//! counts everything after itself. No I/O here: `decode_frame` takes the bytes after the length
//! field, `encode_header` produces the bytes before the body.

use std::collections::HashMap;
use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Deserialize;

use super::codes::CURRENT_VERSION;
use super::limits::FRAME_MAX_BYTES;

/// Bit 0 of `flag`: this frame is a response.
pub const FLAG_RESPONSE: i32 = 0x1;
/// Bit 1 of `flag`: oneway request, must not be answered.
pub const FLAG_ONEWAY: i32 = 0x2;

/// How the header of a frame is serialized (the high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json = 0,
    RocketMq = 1,
}

/// `LanguageCode` of the sender; the byte values are RocketMQ's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LanguageCode {
    Java = 0,
    Cpp = 1,
    Dotnet = 2,
    Python = 3,
    Delphi = 4,
    Erlang = 5,
    Ruby = 6,
    #[default]
    Other = 7,
    Http = 8,
    Go = 9,
    Php = 10,
    Oms = 11,
    Rust = 12,
    NodeJs = 13,
}

const LANGUAGES: [(LanguageCode, &str); 14] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::Dotnet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
    (LanguageCode::NodeJs, "NODE_JS"),
];

impl LanguageCode {
    pub fn name(self) -> &'static str {
        LANGUAGES[self as usize].1
    }
    /// Unknown names map to OTHER (lenient, as peers add languages over time).
    pub fn from_name(name: &str) -> Self {
        LANGUAGES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(l, _)| *l)
            .unwrap_or(LanguageCode::Other)
    }
    pub fn from_byte(b: u8) -> Self {
        LANGUAGES
            .get(b as usize)
            .map(|(l, _)| *l)
            .unwrap_or(LanguageCode::Other)
    }
}

/// A decoding failure. The connection that produced it is closed; the process stays up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed remoting frame: {}", self.0)
    }
}
impl std::error::Error for DecodeError {}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// One request or response.
#[derive(Clone, Default, PartialEq)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: HashMap<String, String>,
    pub body: Bytes,
    pub serialize_type: SerializeType,
}

impl fmt::Debug for RemotingCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemotingCommand")
            .field("code", &self.code)
            .field("opaque", &self.opaque)
            .field("flag", &self.flag)
            .field("remark", &self.remark)
            .field("ext_fields", &self.ext_fields)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct JsonHeader {
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(rename = "extFields", default)]
    ext_fields: Option<HashMap<String, serde_json::Value>>,
}

impl RemotingCommand {
    /// A new request with our language and version.
    pub fn request(code: i32) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CURRENT_VERSION,
            ..Default::default()
        }
    }

    /// A response to `req`: same opaque and serialize type, response flag set.
    pub fn response_to(req: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CURRENT_VERSION,
            opaque: req.opaque,
            flag: FLAG_RESPONSE,
            remark,
            serialize_type: req.serialize_type,
            ..Default::default()
        }
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }
    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
    pub fn with_ext(mut self, key: &str, value: impl ToString) -> Self {
        self.ext_fields.insert(key.to_string(), value.to_string());
        self
    }
    pub fn set_ext(&mut self, key: &str, value: impl ToString) {
        self.ext_fields.insert(key.to_string(), value.to_string());
    }

    /// Header bytes in this command's serialize type.
    fn header_bytes(&self) -> Vec<u8> {
        match self.serialize_type {
            SerializeType::Json => {
                let mut b = Vec::with_capacity(128 + 48 * self.ext_fields.len());
                super::json_header::write(&mut b, self);
                b
            }
            SerializeType::RocketMq => {
                let mut b = Vec::with_capacity(64);
                b.put_i16(self.code as i16);
                b.put_u8(self.language as u8);
                b.put_i16(self.version as i16);
                b.put_i32(self.opaque);
                b.put_i32(self.flag);
                match &self.remark {
                    Some(r) if !r.is_empty() => {
                        b.put_i32(r.len() as i32);
                        b.put_slice(r.as_bytes());
                    }
                    _ => b.put_i32(0),
                }
                let mut ext = Vec::new();
                for (k, v) in &self.ext_fields {
                    ext.put_i16(k.len() as i16);
                    ext.put_slice(k.as_bytes());
                    ext.put_i32(v.len() as i32);
                    ext.put_slice(v.as_bytes());
                }
                b.put_i32(ext.len() as i32);
                b.put_slice(&ext);
                b
            }
        }
    }

    /// Everything of the frame before the body: length, header meta, header.
    pub fn encode_header(&self) -> BytesMut {
        let header = self.header_bytes();
        let mut out = BytesMut::with_capacity(8 + header.len());
        out.put_i32((4 + header.len() + self.body.len()) as i32);
        out.put_i32(((self.serialize_type as i32) << 24) | header.len() as i32);
        out.put_slice(&header);
        out
    }

    /// The whole frame in one buffer (copies the body; the transport writes header and body apart).
    pub fn encode(&self) -> BytesMut {
        let mut out = self.encode_header();
        out.extend_from_slice(&self.body);
        out
    }

    /// Decodes the bytes that follow the 4-byte length field of a frame.
    pub fn decode_frame(mut frame: Bytes) -> Result<Self, DecodeError> {
        if frame.len() < 4 {
            return Err(bad(format!(
                "frame of {} bytes has no header length",
                frame.len()
            )));
        }
        if frame.len() + 4 > FRAME_MAX_BYTES {
            return Err(bad(format!(
                "frame of {} bytes exceeds the {} byte limit",
                frame.len() + 4,
                FRAME_MAX_BYTES
            )));
        }
        let meta = frame.get_i32();
        let header_len = (meta & 0x00FF_FFFF) as usize;
        if header_len > frame.len() {
            return Err(bad(format!(
                "header length {header_len} exceeds the {} bytes left in the frame",
                frame.len()
            )));
        }
        let header = frame.split_to(header_len);
        let body = frame;
        let mut cmd = match (meta >> 24) & 0xFF {
            0 => Self::decode_json_header(&header)?,
            1 => Self::decode_rocketmq_header(header)?,
            other => return Err(bad(format!("unknown serialize type {other}"))),
        };
        cmd.body = body;
        Ok(cmd)
    }

    fn decode_json_header(header: &[u8]) -> Result<Self, DecodeError> {
        if let Some(f) = super::json_header::parse(header) {
            return Ok(RemotingCommand {
                code: f.code,
                language: f
                    .language
                    .as_deref()
                    .map(LanguageCode::from_name)
                    .unwrap_or_default(),
                version: f.version,
                opaque: f.opaque,
                flag: f.flag,
                remark: f.remark,
                ext_fields: f.ext_fields,
                body: Bytes::new(),
                serialize_type: SerializeType::Json,
            });
        }
        // Not the plain shape (or not valid): the general decoder reads it or says what is wrong.
        let h: JsonHeader =
            serde_json::from_slice(header).map_err(|e| bad(format!("bad JSON header: {e}")))?;
        let mut ext_fields = HashMap::new();
        for (k, v) in h.ext_fields.unwrap_or_default() {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            ext_fields.insert(k, s);
        }
        Ok(RemotingCommand {
            code: h.code,
            language: h
                .language
                .as_deref()
                .map(LanguageCode::from_name)
                .unwrap_or_default(),
            version: h.version,
            opaque: h.opaque,
            flag: h.flag,
            remark: h.remark,
            ext_fields,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        })
    }

    fn decode_rocketmq_header(mut h: Bytes) -> Result<Self, DecodeError> {
        fn need(h: &Bytes, n: usize, what: &str) -> Result<(), DecodeError> {
            if h.remaining() < n {
                Err(bad(format!("binary header truncated reading {what}")))
            } else {
                Ok(())
            }
        }
        fn string(b: Bytes, what: &str) -> Result<String, DecodeError> {
            String::from_utf8(b.to_vec()).map_err(|_| bad(format!("{what} is not UTF-8")))
        }
        need(&h, 2 + 1 + 2 + 4 + 4 + 4, "fixed fields")?;
        let code = h.get_i16() as i32;
        let language = LanguageCode::from_byte(h.get_u8());
        let version = h.get_i16() as i32;
        let opaque = h.get_i32();
        let flag = h.get_i32();
        let remark_len = h.get_i32();
        if remark_len < 0 {
            return Err(bad("negative remark length"));
        }
        need(&h, remark_len as usize, "remark")?;
        let remark = if remark_len > 0 {
            Some(string(h.split_to(remark_len as usize), "remark")?)
        } else {
            None
        };
        need(&h, 4, "ext fields length")?;
        let ext_len = h.get_i32();
        if ext_len < 0 || ext_len as usize > h.remaining() {
            return Err(bad(format!("ext fields length {ext_len} out of range")));
        }
        let mut ext = h.split_to(ext_len as usize);
        let mut ext_fields = HashMap::new();
        while ext.has_remaining() {
            need(&ext, 2, "ext key length")?;
            let kl = ext.get_i16();
            if kl < 0 {
                return Err(bad("negative ext key length"));
            }
            need(&ext, kl as usize + 4, "ext key")?;
            let k = string(ext.split_to(kl as usize), "ext key")?;
            let vl = ext.get_i32();
            if vl < 0 {
                return Err(bad("negative ext value length"));
            }
            need(&ext, vl as usize, "ext value")?;
            let v = string(ext.split_to(vl as usize), "ext value")?;
            // A zero-length value decodes as null in 4.9.4+; we keep it absent likewise.
            if vl > 0 {
                ext_fields.insert(k, v);
            }
        }
        Ok(RemotingCommand {
            code,
            language,
            version,
            opaque,
            flag,
            remark,
            ext_fields,
            body: Bytes::new(),
            serialize_type: SerializeType::RocketMq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(st: SerializeType) -> RemotingCommand {
        let mut c = RemotingCommand::request(310)
            .with_ext("a", "PG")
            .with_ext("i", "TAGS\u{1}TagA\u{2}KEYS\u{1}k1")
            .with_body(&b"hello\0world"[..]);
        c.opaque = 42;
        c.remark = Some("r\u{e9}mark".into());
        c.serialize_type = st;
        c
    }

    fn round_trip(c: &RemotingCommand) -> RemotingCommand {
        let mut frame = c.encode().freeze();
        let len = frame.get_i32() as usize;
        assert_eq!(len, frame.len());
        RemotingCommand::decode_frame(frame).unwrap()
    }

    #[test]
    fn json_header_round_trips() {
        let c = sample(SerializeType::Json);
        assert_eq!(round_trip(&c), c);
    }

    #[test]
    fn binary_header_round_trips() {
        let c = sample(SerializeType::RocketMq);
        assert_eq!(round_trip(&c), c);
    }

    #[test]
    fn response_keeps_opaque_and_serialize_type() {
        let req = sample(SerializeType::RocketMq);
        let resp = RemotingCommand::response_to(&req, 17, Some("no".into()));
        assert!(resp.is_response());
        assert_eq!(resp.opaque, 42);
        assert_eq!(round_trip(&resp).serialize_type, SerializeType::RocketMq);
    }

    #[test]
    fn parses_java_json_header() {
        let json = br#"{"code":310,"extFields":{"a":"PG","d":"4"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":409}"#;
        let mut f = BytesMut::new();
        f.put_i32(json.len() as i32);
        f.put_slice(json);
        let c = RemotingCommand::decode_frame(f.freeze()).unwrap();
        assert_eq!(c.code, 310);
        assert_eq!(c.language, LanguageCode::Java);
        assert_eq!(c.ext_fields["d"], "4");
        assert!(c.body.is_empty());
    }

    #[test]
    fn json_ext_numbers_become_strings_and_unknown_language_is_other() {
        let json = br#"{"code":1,"extFields":{"n":5,"b":true,"z":null},"language":"KLINGON","opaque":1,"flag":0}"#;
        let mut f = BytesMut::new();
        f.put_i32(json.len() as i32);
        f.put_slice(json);
        let c = RemotingCommand::decode_frame(f.freeze()).unwrap();
        assert_eq!(c.ext_fields["n"], "5");
        assert_eq!(c.ext_fields["b"], "true");
        assert!(!c.ext_fields.contains_key("z"));
        assert_eq!(c.language, LanguageCode::Other);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0, 0],
            vec![0, 0, 0, 100],                 // header longer than frame
            vec![5, 0, 0, 2, 1, 2],             // unknown serialize type
            vec![0, 0, 0, 3, b'{', b'x', b'}'], // bad json
            vec![1, 0, 0, 4, 0, 1, 2, 3],       // truncated binary header
        ];
        for c in cases {
            assert!(
                RemotingCommand::decode_frame(Bytes::from(c.clone())).is_err(),
                "{c:?}"
            );
        }
        // Binary header with a remark length pointing past the end.
        let mut b = BytesMut::new();
        b.put_i16(1);
        b.put_u8(0);
        b.put_i16(1);
        b.put_i32(1);
        b.put_i32(0);
        b.put_i32(1000);
        let mut f = BytesMut::new();
        f.put_i32((1 << 24) | b.len() as i32);
        f.put_slice(&b);
        assert!(RemotingCommand::decode_frame(f.freeze()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every prefix and byte flip of a valid frame decodes or errors.
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let mut frame = sample(st).encode().freeze();
            frame.advance(4);
            let v = frame.to_vec();
            for cut in 0..v.len() {
                let _ = RemotingCommand::decode_frame(Bytes::from(v[..cut].to_vec()));
            }
            for i in 0..v.len() {
                let mut w = v.clone();
                w[i] ^= 0xA5;
                let _ = RemotingCommand::decode_frame(Bytes::from(w));
            }
        }
    }
}
