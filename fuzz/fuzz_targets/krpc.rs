//! Decodes arbitrary bytes as KRPC; accepted messages must survive an
//! encode/decode round trip unchanged. Also feeds the table-file loader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = arietta_dht::decode(data) {
        let bytes = arietta_dht::encode(&m);
        assert_eq!(arietta_dht::decode(&bytes).as_ref(), Ok(&m));
    }
    let _ = arietta_dht::load_table(data);
});
