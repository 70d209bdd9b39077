//! Bencode (BEP 3) decoding and canonical encoding.
//!
//! The decoder borrows from its input and remembers the raw byte span of
//! every value. That is what BitTorrent needs: the info-hash is the hash of
//! the `info` dictionary *exactly as it appears in the file*, so a torrent
//! whose keys are unsorted (or otherwise non-canonical) must still hash to
//! the value every other client computes. Re-encoding would silently change
//! it; general-purpose bencode crates either reject such files or re-sort.
//!
//! Decoding is strict (no leading zeros, no `-0`, no overflow, no trailing
//! bytes) and bounded ([`Limits`]) so that hostile input — deep nesting or
//! millions of tiny items — fails fast instead of exhausting stack or memory.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod decode;
mod encode;
mod error;
mod value;

pub use decode::{decode, decode_prefix, decode_prefix_with, decode_with, Limits};
pub use encode::{encode, encode_into, DictBuilder};
pub use error::Error;
pub use value::{OwnedValue, Value, ValueKind};

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator so the property tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn gen(rng: &mut Rng, depth: u32) -> OwnedValue {
        match rng.below(if depth > 4 { 2 } else { 4 }) {
            0 => OwnedValue::Int(match rng.below(4) {
                0 => i64::MIN,
                1 => i64::MAX,
                _ => rng.next() as i64 >> rng.below(64),
            }),
            1 => {
                let len = rng.below(12) as usize;
                OwnedValue::Bytes((0..len).map(|_| rng.next() as u8).collect())
            }
            2 => OwnedValue::List((0..rng.below(5)).map(|_| gen(rng, depth + 1)).collect()),
            _ => {
                let mut d = OwnedValue::dict();
                for _ in 0..rng.below(5) {
                    let key: Vec<u8> = (0..rng.below(4)).map(|_| rng.next() as u8).collect();
                    d = d.insert(key, gen(rng, depth + 1));
                }
                d
            }
        }
    }

    #[test]
    fn generated_values_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let v = gen(&mut rng, 0);
            let bytes = encode(&v);
            let decoded = decode(&bytes).unwrap();
            assert_eq!(decoded.raw, &bytes[..]);
            assert_eq!(decoded.to_owned_value(), v);
            // Canonical input re-encodes to itself.
            assert_eq!(encode(&decoded.to_owned_value()), bytes);
        }
    }

    #[test]
    fn truncations_and_mutations_never_panic() {
        let mut rng = Rng(12345);
        for _ in 0..300 {
            let bytes = encode(&gen(&mut rng, 0));
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "prefix accepted");
            }
            let mut m = bytes.clone();
            for _ in 0..4 {
                if m.is_empty() {
                    break;
                }
                let i = rng.below(m.len() as u64) as usize;
                m[i] = rng.next() as u8;
                if let Ok(v) = decode(&m) {
                    let again = encode(&v.to_owned_value());
                    assert!(decode(&again).is_ok());
                }
            }
        }
    }

    #[test]
    fn encoder_sorts_keys_and_builder_matches() {
        let v = OwnedValue::dict()
            .insert("b", 1i64)
            .insert("a", "x")
            .insert("c", vec![OwnedValue::Int(-1)]);
        assert_eq!(encode(&v), b"d1:a1:x1:bi1e1:cli-1eee");
        let built = DictBuilder::new()
            .bytes("a", b"x")
            .int("b", 1)
            .value("c", &OwnedValue::List(vec![OwnedValue::Int(-1)]))
            .finish();
        assert_eq!(built, encode(&v));
    }

    #[test]
    fn unsorted_input_keeps_its_raw_bytes() {
        let input = b"d4:infod6:lengthi5e4:name1:ae1:ai0ee";
        let v = decode(input).unwrap();
        assert_eq!(v.get("info").unwrap().raw, b"d6:lengthi5e4:name1:ae");
        assert_eq!(
            encode(&v.to_owned_value()),
            b"d1:ai0e4:infod6:lengthi5e4:name1:aee"
        );
    }
}
