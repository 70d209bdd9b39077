//! Fuzzes the HTTP response path as the connection drives it: head parser,
//! header accessors, framing decoder (fed in uneven pieces) and content
//! decoder. Any panic, overflow or hang is a bug: these parsers see bytes
//! from arbitrary servers.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arietta_http::{parse_head, BodyDecoder, BodyKind, ContentDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the read-size pattern and whether the request
    // was HEAD, so the same corpus exercises several framings.
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let Ok(Some((head, consumed))) = parse_head(data) else {
        return;
    };
    assert!(consumed <= data.len());
    let _ = head.content_length();
    let _ = head.content_range();
    let _ = head.last_modified();
    let _ = head.location();
    let _ = head.content_disposition_filename(false);
    let _ = head.retry_after(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let _ = head.keep_alive();
    let _ = head.accepts_ranges();
    let _ = head.offers_basic_auth();

    let Ok(kind) = BodyKind::for_response(&head, control & 0x80 != 0) else {
        return;
    };
    let mut decoder = BodyDecoder::new(kind);
    let mut content = ContentDecoder::new(head.content_encoding()).with_limit(1 << 20);
    let step = usize::from(control & 0x7f).max(1);
    let mut rest = &data[consumed..];
    let mut body = Vec::new();
    let mut decoded = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    while !rest.is_empty() && !decoder.is_finished() {
        let take = step.min(rest.len());
        pending.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        let before = body.len();
        match decoder.decode(&pending, &mut body) {
            Ok((used, _)) => {
                assert!(used <= pending.len());
                pending.drain(..used);
            }
            Err(_) => return,
        }
        if content.decode(&body[before..], &mut decoded).is_err() {
            return;
        }
    }
    if !decoder.is_finished() {
        let _ = decoder.on_eof();
    }
    let _ = content.finish();
    if let BodyKind::Length(n) = kind {
        assert!(body.len() as u64 <= n);
    }
    assert_eq!(decoder.body_bytes(), body.len() as u64);
});
