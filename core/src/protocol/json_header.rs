//! The JSON form of the remoting header, read and written by hand: it is on every request and
//! response, and a general JSON library spent a fifth of the broker's time here.
//!
//! `parse` covers what peers send (one flat object of integers and strings, `extFields` an
//! object of scalars); anything else it declines (`None`) and the caller falls back to the
//! general decoder, which also words the errors. `write` produces compact JSON.

use std::borrow::Cow;
use std::collections::HashMap;

use super::command::RemotingCommand;

/// The header's fields as read.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Fields {
    pub code: i32,
    pub language: Option<String>,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: HashMap<String, String>,
}

/// Reads a header; `None` when it is not the plain shape (the general decoder decides then).
pub(crate) fn parse(b: &[u8]) -> Option<Fields> {
    let mut p = Parser { b, i: 0 };
    let mut f = Fields::default();
    let mut seen = 0u16;
    let mut code_seen = false;
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        return None; // no code: let the general decoder say so
    }
    loop {
        p.ws();
        let key = p.string()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        let bit = match &*key {
            "code" => {
                f.code = p.i32()?;
                code_seen = true;
                1
            }
            "language" => {
                f.language = p.opt_string()?.map(Cow::into_owned);
                2
            }
            "version" => {
                f.version = p.i32()?;
                4
            }
            "opaque" => {
                f.opaque = p.i32()?;
                8
            }
            "flag" => {
                f.flag = p.i32()?;
                16
            }
            "remark" => {
                f.remark = p.opt_string()?.map(Cow::into_owned);
                32
            }
            "extFields" => {
                if p.peek()? == b'n' {
                    p.literal(b"null")?;
                } else {
                    f.ext_fields = p.ext_object()?;
                }
                64
            }
            "serializeTypeCurrentRPC" => {
                p.opt_string()?;
                128
            }
            _ => {
                p.scalar()?;
                0
            }
        };
        if seen & bit != 0 {
            return None; // duplicate field: an error for the general decoder
        }
        seen |= bit;
        p.ws();
        match p.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    p.ws();
    (p.i == b.len() && code_seen).then_some(f)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i.checked_add(lit.len())?;
        (self.b.get(self.i..end)? == lit).then(|| self.i = end)
    }

    /// A string (at its opening quote).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        // Fast path: no escape before the closing quote.
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    let s = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                    self.i += 1;
                    return Some(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1F => return None,
                _ => self.i += 1,
            }
        }
        let mut out: Vec<u8> = self.b[start..self.i].to_vec();
        loop {
            match self.next()? {
                b'"' => return String::from_utf8(out).ok().map(Cow::Owned),
                b'\\' => match self.next()? {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0C),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let hi = self.hex4()?;
                        let ch = if (0xD800..0xDC00).contains(&hi) {
                            self.literal(b"\\u")?;
                            let lo = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return None;
                            }
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                        } else {
                            char::from_u32(hi)?
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return None,
                },
                0..=0x1F => return None,
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.i.checked_add(4)?;
        let s = std::str::from_utf8(self.b.get(self.i..end)?).ok()?;
        let v = u32::from_str_radix(s, 16).ok()?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.i = end;
        Some(v)
    }

    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// An integer in JSON's grammar (no fraction, no exponent), as its text.
    fn integer_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let digits = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let n = self.i - digits;
        if n == 0 || (n > 1 && self.b[digits] == b'0') {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None; // a float: the general decoder knows how it prints
        }
        std::str::from_utf8(&self.b[start..self.i]).ok()
    }

    fn i32(&mut self) -> Option<i32> {
        self.integer_text()?.parse().ok()
    }

    /// An `extFields` value as the text it carries; `None` inside for `null`.
    fn ext_value(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'"' => self.string().map(|s| Some(s.into_owned())),
            b'n' => self.literal(b"null").map(|_| None),
            b't' => self.literal(b"true").map(|_| Some("true".to_string())),
            b'f' => self.literal(b"false").map(|_| Some("false".to_string())),
            b'-' | b'0'..=b'9' => {
                let t = self.integer_text()?;
                // As the general decoder prints it (e.g. "-0" becomes "0").
                t.parse::<i64>().ok().map(|v| Some(v.to_string()))
            }
            _ => None,
        }
    }

    fn scalar(&mut self) -> Option<()> {
        self.ext_value().map(|_| ())
    }

    fn ext_object(&mut self) -> Option<HashMap<String, String>> {
        self.eat(b'{')?;
        let mut m = HashMap::with_capacity(16);
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(m);
        }
        loop {
            self.ws();
            let k = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match self.ext_value()? {
                Some(v) => {
                    m.insert(k.into_owned(), v);
                }
                None => {
                    m.remove(&*k);
                }
            }
            self.ws();
            match self.next()? {
                b',' => continue,
                b'}' => return Some(m),
                _ => return None,
            }
        }
    }
}

/// Writes `cmd`'s header as compact JSON.
pub(crate) fn write(out: &mut Vec<u8>, cmd: &RemotingCommand) {
    use std::io::Write;
    let _ = write!(out, "{{\"code\":{}", cmd.code);
    if !cmd.ext_fields.is_empty() {
        out.extend_from_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, k);
            out.push(b':');
            string(out, v);
        }
        out.push(b'}');
    }
    let _ = write!(out, ",\"flag\":{},\"language\":", cmd.flag);
    string(out, cmd.language.name());
    let _ = write!(out, ",\"opaque\":{}", cmd.opaque);
    if let Some(r) = &cmd.remark {
        out.extend_from_slice(b",\"remark\":");
        string(out, r);
    }
    let _ = write!(
        out,
        ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":{}}}",
        cmd.version
    );
}

fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let b = s.as_bytes();
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            0..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[run..i]);
        run = i + 1;
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xF) as usize],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_view(b: &[u8]) -> Option<serde_json::Value> {
        serde_json::from_slice(b).ok()
    }

    #[test]
    fn reads_what_java_and_go_send() {
        let java = br#"{"code":310,"extFields":{"a":"PG","b":"T","e":"0","d":"4","n":5,"t":true,"z":null},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":409}"#;
        let f = parse(java).unwrap();
        assert_eq!((f.code, f.flag, f.opaque, f.version), (310, 0, 7, 409));
        assert_eq!(f.language.as_deref(), Some("JAVA"));
        assert_eq!(f.ext_fields["d"], "4");
        assert_eq!(f.ext_fields["n"], "5");
        assert_eq!(f.ext_fields["t"], "true");
        assert!(!f.ext_fields.contains_key("z"));
        let go = b" { \"code\" : 11 , \"language\":\"GO\",\"version\":317,\"opaque\":3,\"flag\":0,\"remark\":\"\",\"extFields\":{\"topic\":\"T\\u00e9\\n\\\"q\\\"\"} } ";
        let f = parse(go).unwrap();
        assert_eq!(f.ext_fields["topic"], "T\u{e9}\n\"q\"");
        assert_eq!(f.remark.as_deref(), Some(""));
        let surrogate = br#"{"code":1,"extFields":{"k":"\ud83d\ude00"}}"#;
        assert_eq!(parse(surrogate).unwrap().ext_fields["k"], "\u{1F600}");
    }

    #[test]
    fn declines_what_it_does_not_cover() {
        for s in [
            &br#"{"code":1.5}"#[..],
            br#"{"code":1,"extFields":{"a":{"x":1}}}"#,
            br#"{"code":1,"extFields":{"a":[1]}}"#,
            br#"{"code":1,"extFields":{"a":1e3}}"#,
            br#"{"code":1,"other":{}}"#,
            br#"{"code":1,"code":2}"#,
            br#"{"code":01}"#,
            br#"{"code":99999999999}"#,
            br#"{"opaque":1}"#,
            br#"{}"#,
            br#"{"code":1} x"#,
            br#"{"code":1,"remark":"a\qb"}"#,
            br#"{"code":1,"remark":"\ud800x"}"#,
            b"{\"code\":1,\"remark\":\"\x01\"}",
            br#"{"code":1,"#,
            br#""#,
        ] {
            assert!(parse(s).is_none(), "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn writes_json_that_reads_back_the_same() {
        let mut c = RemotingCommand::request(-3)
            .with_ext("k\n", "v\u{0}\u{1f}/")
            .with_ext("props", "A\u{1}1\u{2}B\u{1}2\u{2}");
        c.opaque = i32::MAX;
        c.flag = 3;
        c.remark = Some("tab\tquote\"back\\slash\u{1}\u{e9}\u{1F600}".into());
        let mut out = Vec::new();
        write(&mut out, &c);
        let v = serde_view(&out).expect("valid JSON");
        assert_eq!(v["remark"], c.remark.as_deref().unwrap());
        assert_eq!(v["extFields"]["k\n"], "v\u{0}\u{1f}/");
        let f = parse(&out).unwrap();
        assert_eq!((f.code, f.opaque, f.flag), (c.code, c.opaque, c.flag));
        assert_eq!((f.version, f.remark), (c.version, c.remark));
        assert_eq!(f.language.as_deref(), Some("RUST"));
        assert_eq!(f.ext_fields, c.ext_fields);
    }

    #[test]
    fn agrees_with_the_general_decoder_on_flips() {
        let mut c = RemotingCommand::request(10)
            .with_ext("a", "PG")
            .with_ext("n", "12");
        c.remark = Some("r".into());
        let mut out = Vec::new();
        write(&mut out, &c);
        for i in 0..out.len() {
            for x in [0x01u8, 0x20, 0xA5] {
                let mut w = out.clone();
                w[i] ^= x;
                if let Some(fast) = parse(&w) {
                    // Whatever the fast path accepts is valid JSON with the same content.
                    let v = serde_view(&w).expect("accepted only valid JSON");
                    assert_eq!(v["code"], fast.code, "{}", String::from_utf8_lossy(&w));
                }
            }
        }
    }
}
