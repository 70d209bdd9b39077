//! Fuzzes the SOCKS5 client handshake with whatever a hostile proxy sends:
//! the bytes arrive in uneven pieces, and the machine must never panic,
//! always make progress while it wants bytes, and end done or failed —
//! for CONNECT and for UDP ASSOCIATE (whose reply names the relay).
#![no_main]

use arietta_socks5::{Credentials, Handshake, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(control & 0x0f).max(1);
    let creds = (control & 0x10 != 0).then(|| Credentials {
        user: "user".into(),
        password: "pass".into(),
    });
    let target = match (control >> 5) & 3 {
        0 => Target::new("127.0.0.1", 80),
        1 => Target::new("[::1]", 443),
        _ => Target::new("example.org", 21),
    };
    let started = if control & 0x80 != 0 {
        Handshake::associate(Target::new("0.0.0.0", 6881), creds)
    } else {
        Handshake::new(target, creds)
    };
    let Ok(mut h) = started else {
        return;
    };
    for chunk in data.chunks(step) {
        let mut rest = chunk;
        while !rest.is_empty() {
            // What the server answers is only read once our message is out.
            let _ = h.transmit();
            match h.feed(rest) {
                Ok(used) => {
                    assert!(used > 0 && used <= rest.len());
                    if h.bound().is_some() {
                        assert_eq!(h.wanted(), 0);
                        return;
                    }
                    rest = &rest[used..];
                }
                Err(_) => {
                    assert_eq!(h.wanted(), 0);
                    return;
                }
            }
        }
    }
});
