//! Decodes arbitrary bytes; anything accepted must re-encode canonically to
//! something that decodes to the same value, with spans that index the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = arietta_bencode::decode(data) {
        assert_eq!(v.raw, data);
        let owned = v.to_owned_value();
        let again = arietta_bencode::encode(&owned);
        let v2 = arietta_bencode::decode(&again).expect("canonical output decodes");
        assert_eq!(v2.to_owned_value(), owned);
        assert_eq!(arietta_bencode::encode(&v2.to_owned_value()), again);
    }
    let _ = arietta_bencode::decode_prefix(data);
});
