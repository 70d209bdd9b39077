//! Fuzzes the peer wire decoder as a connection drives it: handshake, then
//! messages, fed in uneven chunks with a small size limit. Every decoded
//! message must re-encode to the bytes it came from, and validators must
//! never panic.
#![no_main]

use arietta_bt::bitfield::Bitfield;
use arietta_bt::peer_wire::{Message, MessageDecoder};
use arietta_bt::piece_geometry::{BlockRef, PieceGeometry, BLOCK_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(control & 0x3f).max(1);
    let with_handshake = control & 0x40 != 0;
    let restricted = control & 0x80 != 0;
    let mut decoder = MessageDecoder::new(4096);
    decoder.set_negotiated(!restricted, !restricted);
    let geometry = PieceGeometry::new(BLOCK_LEN * 2, 1_000_000).unwrap();
    let mut handshake_done = !with_handshake;
    for chunk in data.chunks(step) {
        decoder.feed(chunk);
        if !handshake_done {
            match decoder.next_handshake() {
                None => continue,
                Some(Ok(_)) => handshake_done = true,
                Some(Err(_)) => return,
            }
        }
        while let Some(result) = decoder.next() {
            let Ok(msg) = result else { return };
            let wire = msg.to_vec();
            assert_eq!(wire.len(), 4 + msg.body_len());
            let mut again = MessageDecoder::new(u32::MAX);
            again.feed(&wire);
            assert_eq!(again.next(), Some(Ok(msg.clone())));
            match &msg {
                Message::Bitfield(bits) => {
                    if let Ok(b) = Bitfield::from_wire(bits, geometry.piece_count()) {
                        assert_eq!(b.as_bytes(), &bits[..]);
                    }
                }
                Message::Request(b) | Message::Cancel(b) | Message::Reject(b) => {
                    let _ = geometry.validate_block(b, BLOCK_LEN);
                    let _ = geometry.block_number(b);
                }
                Message::Piece { index, begin, data } => {
                    let b = BlockRef {
                        index: *index,
                        begin: *begin,
                        length: data.len() as u32,
                    };
                    let _ = geometry.validate_block(&b, BLOCK_LEN);
                }
                _ => {}
            }
        }
    }
});
