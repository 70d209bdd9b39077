//! Fuzzes the `ut_pex` decoder: it must never panic, never keep more than
//! its per-list cap, and whatever it decodes must survive an encode/decode
//! round trip unchanged (modulo the v4-before-v6 grouping, which decoding
//! already produced).
#![no_main]

use arietta_bt::pex::{PexMessage, MAX_PEERS_PER_LIST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = PexMessage::decode(data) else {
        return;
    };
    assert!(msg.added.len() <= 2 * MAX_PEERS_PER_LIST);
    assert!(msg.dropped.len() <= 2 * MAX_PEERS_PER_LIST);
    let again = PexMessage::decode(&msg.encode()).expect("own encoding decodes");
    assert_eq!(again, msg);
});
