//! Fuzzes the header a SOCKS5 UDP relay puts on each datagram it hands
//! back (RFC 1928 §7): whatever arrives, decoding never panics, a payload
//! is a suffix of the datagram, and a decoded source address encodes back
//! to the same header.
#![no_main]

use arietta_socks5::{decode_datagram, encode_datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = decode_datagram(data) else {
        return;
    };
    let header = data.len() - d.payload.len();
    assert_eq!(&data[header..], d.payload);
    // A domain's bytes may not be UTF-8 and come back replaced (and
    // longer); addresses come back byte for byte.
    if data[3] != 3 {
        let again = encode_datagram(&d.from, d.payload).expect("an address encodes");
        assert_eq!(again, data);
    }
});
