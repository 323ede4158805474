//! Reading Java fastjson output, which writes integer map keys unquoted (`{0:"addr"}`).

/// Quotes bare numeric object keys so a standard JSON parser accepts fastjson's default form.
pub fn quote_bare_numeric_keys(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    let mut in_str = false;
    // true right after '{' or ',' (ignoring whitespace), where an object key may start.
    let mut key_pos = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c as char);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                key_pos = false;
                out.push('"');
                i += 1;
            }
            b'{' | b',' => {
                key_pos = true;
                out.push(c as char);
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                out.push(c as char);
                i += 1;
            }
            b'-' | b'0'..=b'9' if key_pos => {
                let start = i;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let mut j = i;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && b[j] == b':' {
                    out.push('"');
                    out.push_str(&src[start..i]);
                    out.push('"');
                } else {
                    out.push_str(&src[start..i]);
                }
                key_pos = false;
            }
            _ => {
                key_pos = false;
                // Copy non-ASCII and other bytes through as UTF-8 runs.
                let ch_len = utf8_len(c);
                out.push_str(&src[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Parses JSON that may be in fastjson's quirky form.
pub fn from_fastjson<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(first) => {
            let text = String::from_utf8_lossy(bytes);
            serde_json::from_str(&quote_bare_numeric_keys(&text)).map_err(|_| first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn quotes_integer_keys_only() {
        let q = quote_bare_numeric_keys(
            r#"{"brokerAddrs":{0:"1.2.3.4:10911", 1 : "x:1"},"n":[1,2],"s":"{0:1}"}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&q).unwrap();
        assert_eq!(v["brokerAddrs"]["0"], "1.2.3.4:10911");
        assert_eq!(v["brokerAddrs"]["1"], "x:1");
        assert_eq!(v["n"][1], 2);
        assert_eq!(v["s"], "{0:1}");
    }

    #[test]
    fn parses_offset_table() {
        let m: HashMap<String, HashMap<i32, i64>> =
            from_fastjson(b"{\"T@g\":{0:15,1:20}}").unwrap();
        assert_eq!(m["T@g"][&1], 20);
        let m: HashMap<String, String> = from_fastjson("{\"k\":\"\u{4e2d}\"}".as_bytes()).unwrap();
        assert_eq!(m["k"], "\u{4e2d}");
    }
}
