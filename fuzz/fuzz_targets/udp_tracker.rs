//! Fuzzes BEP 15 response parsing for both address families.
#![no_main]

use arietta_bt::tracker_udp::{action, parse_expected, parse_response, AddressFamily, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for family in [AddressFamily::V4, AddressFamily::V6] {
        if let Ok(Response::Announce { response, .. }) = parse_response(data, family) {
            let size = if family == AddressFamily::V4 { 6 } else { 18 };
            assert!(response.peers.len() * size <= data.len());
        }
        for act in [action::CONNECT, action::ANNOUNCE, action::SCRAPE] {
            let _ = parse_expected(data, family, 0x0102_0304, act);
        }
    }
});
