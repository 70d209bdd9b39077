//! Feeds arbitrary bytes to the WebSocket frame decoder, split at a point
//! chosen by the first byte; both feedings must agree.
#![no_main]

use arietta_rpc::websocket::FrameDecoder;
use libfuzzer_sys::fuzz_target;

fn run(chunks: &[&[u8]]) -> Vec<String> {
    let mut d = FrameDecoder::new(1 << 16);
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => out.push(format!("{f:?}")),
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("{e:?}"));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let whole = run(&[rest]);
    let parts = run(&[&rest[..at], &rest[at..]]);
    assert_eq!(whole, parts);
});
