//! Bytes read from a connection, cut into frames.
//!
//! One buffer per connection, filled by plain non-blocking reads (by the connection's reader
//! task, or by a blocking caller waiting for its reply, see `Channel::invoke`); every complete
//! frame is copied out into its own allocation, so a message kept by the application never pins
//! the buffer.

use bytes::Bytes;

use crate::protocol::limits::FRAME_MAX_BYTES;

/// What the buffer starts with, and returns to after a large frame.
const INITIAL: usize = 64 * 1024;
/// Grown past this for a large frame, the buffer is replaced by a small one once it is empty.
const KEEP_AT_MOST: usize = 1024 * 1024;

pub(crate) struct ReadBuf {
    data: Vec<u8>,
    /// Unconsumed bytes are `data[start..end]`.
    start: usize,
    end: usize,
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf {
            data: vec![0; INITIAL],
            start: 0,
            end: 0,
        }
    }
}

impl ReadBuf {
    /// Room to read into (never empty): the free tail, after moving unconsumed bytes to the
    /// front if there is no tail left.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                // Full of one incomplete frame whose length is not known yet (cannot happen
                // with a 64 KiB buffer and a 4-byte length field; grown all the same).
                let n = self.data.len() * 2;
                self.data.resize(n, 0);
            }
        }
        &mut self.data[self.end..]
    }

    /// `n` bytes were read into `spare()`.
    pub(crate) fn filled(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.data.len());
        self.end += n;
    }

    /// The next complete frame (the bytes after its length field), `None` if more bytes are
    /// needed, or an error for a length no frame can have (the connection must be dropped).
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>, String> {
        let avail = self.end - self.start;
        if avail < 4 {
            self.reset_if_empty();
            return Ok(None);
        }
        let head = &self.data[self.start..self.start + 4];
        let len = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if len < 4 || len as usize + 4 > FRAME_MAX_BYTES {
            return Err(format!("frame length {len} outside 4..{FRAME_MAX_BYTES}"));
        }
        let total = len as usize + 4;
        if avail < total {
            // Make room for the whole frame now, so reads fill it without further moves.
            if self.data.len() - self.start < total {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.data.len() < total {
                    self.data.resize(total, 0);
                }
            }
            return Ok(None);
        }
        let frame = Bytes::copy_from_slice(&self.data[self.start + 4..self.start + total]);
        self.start += total;
        self.reset_if_empty();
        Ok(Some(frame))
    }

    fn reset_if_empty(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.data.len() > KEEP_AT_MOST {
                self.data = vec![0; INITIAL];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    /// Feeds `bytes` in reads of at most `step` bytes, collecting the frames.
    fn feed(buf: &mut ReadBuf, bytes: &[u8], step: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let spare = buf.spare();
            let n = spare.len().min(step).min(bytes.len() - at);
            spare[..n].copy_from_slice(&bytes[at..at + n]);
            buf.filled(n);
            at += n;
            while let Some(f) = buf.next_frame().unwrap() {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn frames_split_across_reads_come_out_whole_and_in_order() {
        let payloads: Vec<Vec<u8>> = (0..200u32)
            .map(|i| (0..(4 + i * 37 % 3000)).map(|b| (b ^ i) as u8).collect())
            .collect();
        let stream: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
        for step in [1, 3, 4, 5, 100, 4096, 70_000] {
            let mut buf = ReadBuf::default();
            let got = feed(&mut buf, &stream, step);
            assert_eq!(got.len(), payloads.len(), "step {step}");
            for (g, p) in got.iter().zip(&payloads) {
                assert_eq!(&g[..], &p[..], "step {step}");
            }
        }
    }

    #[test]
    fn a_frame_larger_than_the_buffer_grows_it_and_the_buffer_shrinks_back() {
        let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| i as u8).collect();
        let small = b"tail-frame".to_vec();
        let stream: Vec<u8> = [frame(&big), frame(&small)].concat();
        let mut buf = ReadBuf::default();
        let got = feed(&mut buf, &stream, 60_000);
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0][..], &big[..]);
        assert_eq!(&got[1][..], &small[..]);
        assert_eq!(
            buf.data.len(),
            INITIAL,
            "an empty buffer does not stay large"
        );
    }

    #[test]
    fn impossible_lengths_are_errors() {
        for len in [-1i32, 0, 3, i32::MAX] {
            let mut buf = ReadBuf::default();
            let spare = buf.spare();
            spare[..4].copy_from_slice(&len.to_be_bytes());
            buf.filled(4);
            assert!(buf.next_frame().is_err(), "length {len}");
        }
    }
}
