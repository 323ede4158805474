//! Writing JSON bodies in the two forms Java's fastjson produces, so that every generation of
//! client parses what we send.
//!
//! * [`JsonForm::Fastjson`] — fastjson's default: map keys that are not strings (brokerIds in
//!   `brokerAddrs`) are written bare, `{0:"10.0.0.1:10911"}`. Old Java clients and the Go client's
//!   hand-written `brokerAddrs` splitter expect this form.
//! * [`JsonForm::Standard`] — RFC 8259, with every non-ASCII character escaped as `\uXXXX`, as
//!   fastjson's `BrowserCompatible` feature writes it for clients of version ≥ V4_9_4.
//!
//! Whether a key is bare is decided by its Rust type (an integer-keyed map), never by looking at
//! the text, so a string key that happens to be all digits stays quoted.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// Which of fastjson's outputs to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonForm {
    /// fastjson's default form: non-string map keys unquoted, non-ASCII written as UTF-8.
    Fastjson,
    /// Standard JSON with non-ASCII escaped (fastjson `BrowserCompatible`).
    Standard,
}

/// Serializes `value` in the given form.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, form: JsonForm) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let formatter = FastjsonFormatter {
        form,
        key: KeyState::NotInKey,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Where we are inside an object key. serde_json writes a key as `begin_string`, then either
/// string fragments or one scalar (`write_i64`, …), then `end_string`; in the fastjson form the
/// opening quote is held back until we know which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    NotInKey,
    /// Inside a key, opening quote not yet written.
    Pending,
    /// Inside a string key whose opening quote has been written.
    Quoted,
    /// Inside a key written bare (a number or boolean).
    Bare,
}

struct FastjsonFormatter {
    form: JsonForm,
    key: KeyState,
}

impl FastjsonFormatter {
    fn holds_quotes(&self) -> bool {
        self.form == JsonForm::Fastjson && self.key != KeyState::NotInKey
    }

    /// Called before key text that is a string: writes the held-back opening quote.
    fn open_string_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.holds_quotes() && self.key == KeyState::Pending {
            self.key = KeyState::Quoted;
            w.write_all(b"\"")?;
        }
        Ok(())
    }

    /// Called before a scalar: inside a held-back key it is written bare.
    fn mark_bare(&mut self) {
        if self.holds_quotes() && self.key == KeyState::Pending {
            self.key = KeyState::Bare;
        }
    }
}

macro_rules! bare_scalar {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        fn $name<W: ?Sized + Write>(&mut self, w: &mut W, value: $ty) -> io::Result<()> {
            self.mark_bare();
            CompactFormatter.$name(w, value)
        }
    )*};
}

impl Formatter for FastjsonFormatter {
    bare_scalar!(
        write_bool: bool,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64,
    );

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.key = KeyState::Pending;
        CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.key = KeyState::NotInKey;
        CompactFormatter.end_object_key(w)
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.holds_quotes() {
            return Ok(());
        }
        w.write_all(b"\"")
    }

    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.holds_quotes() {
            return match self.key {
                KeyState::Bare => Ok(()),
                // An empty string key: no fragment opened it.
                KeyState::Pending => w.write_all(b"\"\""),
                _ => w.write_all(b"\""),
            };
        }
        w.write_all(b"\"")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.open_string_key(w)?;
        if self.form == JsonForm::Fastjson || fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for ch in fragment.chars() {
            if ch.is_ascii() {
                w.write_all(&[ch as u8])?;
            } else {
                for unit in ch.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04X}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        self.open_string_key(w)?;
        CompactFormatter.write_char_escape(w, char_escape)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::bodies::{BrokerData, ClusterInfo, TopicRouteData};
    use crate::protocol::json::from_fastjson;

    fn text<T: Serialize>(v: &T, form: JsonForm) -> String {
        String::from_utf8(to_vec(v, form).unwrap()).unwrap()
    }

    fn broker() -> BrokerData {
        BrokerData {
            cluster: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_addrs: BTreeMap::from([
                (0, "10.0.0.1:10911".into()),
                (1, "10.0.0.2:10911".into()),
            ]),
        }
    }

    #[test]
    fn integer_keys_are_bare_only_in_fastjson_form() {
        let b = broker();
        assert_eq!(
            text(&b, JsonForm::Fastjson),
            r#"{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}"#
        );
        assert_eq!(
            text(&b, JsonForm::Standard),
            r#"{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}}"#
        );
    }

    #[test]
    fn string_keys_stay_quoted_even_when_numeric_or_escaped_or_empty() {
        let m: BTreeMap<String, i32> = BTreeMap::from([
            ("".to_string(), 1),
            ("12".to_string(), 2),
            ("a\"b".to_string(), 3),
            ("\n".to_string(), 4),
        ]);
        let want = r#"{"":1,"\n":4,"12":2,"a\"b":3}"#;
        assert_eq!(text(&m, JsonForm::Fastjson), want);
        assert_eq!(text(&m, JsonForm::Standard), want);
        let n: BTreeMap<i64, BTreeMap<i32, bool>> =
            BTreeMap::from([(-5, BTreeMap::from([(7, true)]))]);
        assert_eq!(text(&n, JsonForm::Fastjson), "{-5:{7:true}}");
    }

    #[test]
    fn standard_form_escapes_non_ascii() {
        let m = BTreeMap::from([("t\u{4e2d}".to_string(), "x\u{1F600}".to_string())]);
        assert_eq!(
            text(&m, JsonForm::Standard),
            r#"{"t\u4E2D":"x\uD83D\uDE00"}"#
        );
        assert_eq!(
            text(&m, JsonForm::Fastjson),
            "{\"t\u{4e2d}\":\"x\u{1F600}\"}"
        );
        let back: BTreeMap<String, String> =
            serde_json::from_slice(&to_vec(&m, JsonForm::Standard).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn both_forms_read_back() {
        let route = TopicRouteData {
            order_topic_conf: Some("broker-a:4".into()),
            broker_datas: vec![broker()],
            ..Default::default()
        };
        for form in [JsonForm::Fastjson, JsonForm::Standard] {
            let back: TopicRouteData = from_fastjson(&to_vec(&route, form).unwrap()).unwrap();
            assert_eq!(back, route);
        }
        let mut info = ClusterInfo::default();
        info.broker_addr_table.insert("broker-a".into(), broker());
        let quirky = text(&info, JsonForm::Fastjson);
        assert!(
            quirky.contains(r#""brokerAddrs":{0:"10.0.0.1:10911""#),
            "{quirky}"
        );
    }
}
