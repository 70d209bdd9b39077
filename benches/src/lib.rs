//! Inputs shared by arietta's criterion benchmarks.
//!
//! The benchmarks live in `benches/`; this library only builds their inputs
//! so that every bench measures the same, realistic bytes (a typical 206
//! head from nginx, a chunked body framed the way servers frame it) and so
//! the generators themselves are unit-tested rather than trusted.
#![deny(unsafe_op_in_unsafe_fn)]

/// A 206 response head as nginx 1.22 sends it for one segment of a large
/// file: the head arietta parses once per segment request.
pub const NGINX_206_HEAD: &[u8] = b"HTTP/1.1 206 Partial Content\r\n\
Server: nginx/1.22.1\r\n\
Date: Wed, 26 Nov 2025 05:50:00 GMT\r\n\
Content-Type: application/octet-stream\r\n\
Content-Length: 67108864\r\n\
Last-Modified: Wed, 26 Nov 2025 05:40:12 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"6926930c-40000000\"\r\n\
Content-Range: bytes 67108864-134217727/1073741824\r\n\
\r\n";

/// `payload` framed with chunked transfer coding in chunks of `chunk` bytes
/// (the last one may be shorter), ending with the zero chunk and an empty
/// trailer.
pub fn chunked_body(payload: &[u8], chunk: usize) -> Vec<u8> {
    let chunk = chunk.max(1);
    let mut out = Vec::with_capacity(payload.len() + payload.len() / chunk * 12 + 16);
    for part in payload.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Deterministic, incompressible-looking bytes (xorshift64), so benches do
/// not depend on a random source and are repeatable run to run.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `n` disjoint ranges spread over `[0, n * stride)`, each half a stride
/// long, in a scrambled order: what a control file of a download with many
/// interrupted segments holds.
pub fn scattered_ranges(n: u64, stride: u64) -> Vec<(u64, u64)> {
    let half = stride / 2;
    // Multiplying by an odd constant permutes indices modulo a power of two;
    // indices outside [0, n) are skipped so every range appears once.
    let size = n.next_power_of_two();
    (0..size)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (size - 1))
        .filter(|&i| i < n)
        .map(|i| (i * stride, i * stride + half))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_http::{BodyDecoder, BodyKind};

    #[test]
    fn head_parses_as_206() {
        let (head, used) = arietta_http::parse_head(NGINX_206_HEAD)
            .expect("valid head")
            .expect("complete head");
        assert_eq!(used, NGINX_206_HEAD.len());
        assert_eq!(head.content_length().expect("valid"), Some(64 << 20));
        assert!(head.content_range().expect("valid").is_some());
    }

    #[test]
    fn chunked_body_round_trips() {
        let payload = pseudo_random_bytes(100_003, 7);
        let framed = chunked_body(&payload, 16 << 10);
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        let mut out = Vec::new();
        let (used, done) = dec.decode(&framed, &mut out).expect("valid framing");
        assert!(done);
        assert_eq!(used, framed.len());
        assert_eq!(out, payload);
    }

    #[test]
    fn scattered_ranges_are_a_permutation() {
        let mut r = scattered_ranges(1000, 1 << 20);
        assert_eq!(r.len(), 1000);
        r.sort_unstable();
        r.dedup();
        assert_eq!(r.len(), 1000);
        let set = arietta_storage::RangeSet::from_ranges(scattered_ranges(1000, 1 << 20));
        assert_eq!(set.ranges().len(), 1000);
    }

    #[test]
    fn pseudo_random_bytes_has_requested_length() {
        assert_eq!(pseudo_random_bytes(13, 1).len(), 13);
        assert_ne!(pseudo_random_bytes(64, 1), pseudo_random_bytes(64, 2));
    }
}
