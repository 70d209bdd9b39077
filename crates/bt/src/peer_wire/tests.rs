//! Peer wire messages: round trips, byte-by-byte delivery, malformed and
//! oversized input, BEP 6 vectors.

use super::*;

fn all_messages() -> Vec<Message> {
    let b = BlockRef {
        index: 7,
        begin: 16384,
        length: 16384,
    };
    vec![
        Message::KeepAlive,
        Message::Choke,
        Message::Unchoke,
        Message::Interested,
        Message::NotInterested,
        Message::Have(0xdead_beef),
        Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
        Message::Request(b),
        Message::Piece {
            index: 3,
            begin: 0,
            data: Bytes::from(vec![0xab; 1000]),
        },
        Message::Cancel(b),
        Message::Port(6881),
        Message::Suggest(5),
        Message::HaveAll,
        Message::HaveNone,
        Message::Reject(b),
        Message::AllowedFast(9),
        Message::Extended {
            id: 0,
            payload: Bytes::from_static(b"d1:md11:ut_metadatai1eee"),
        },
        Message::V2Hashes {
            id: id::HASH_REQUEST,
            payload: Bytes::from(vec![3; 48]),
        },
        Message::V2Hashes {
            id: id::HASHES,
            payload: Bytes::from(vec![4; 48 + 64]),
        },
    ]
}

#[test]
fn handshake_roundtrip_and_bits() {
    let hs = Handshake::new([1; 20], [2; 20], true);
    let wire = hs.encode();
    assert_eq!(wire[0], 19);
    assert_eq!(&wire[1..20], PROTOCOL);
    assert_eq!(wire[25], 0x10);
    assert_eq!(wire[27], 0x05);
    let back = Handshake::parse(&wire).unwrap();
    assert_eq!(back, hs);
    assert!(back.supports_extension_protocol() && back.supports_fast() && back.supports_dht());
    let plain = Handshake::parse(&Handshake::new([1; 20], [2; 20], false).encode()).unwrap();
    assert!(!plain.supports_dht());
    assert!(Handshake::parse(&wire[..67]).is_err());
    let mut bad = wire;
    bad[3] = b'x';
    assert!(Handshake::parse(&bad).is_err());
}

#[test]
fn encode_decode_roundtrip_every_message() {
    let msgs = all_messages();
    let mut wire = Vec::new();
    for m in &msgs {
        let before = wire.len();
        m.encode_into(&mut wire);
        assert_eq!(wire.len() - before, 4 + m.body_len());
    }
    let mut d = MessageDecoder::default();
    d.feed(&wire);
    let mut got = Vec::new();
    while let Some(m) = d.next() {
        got.push(m.unwrap());
    }
    assert_eq!(got, msgs);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn byte_by_byte_delivery() {
    let msgs = all_messages();
    let mut wire = Handshake::new([9; 20], [8; 20], false).encode().to_vec();
    for m in &msgs {
        m.encode_into(&mut wire);
    }
    let mut d = MessageDecoder::default();
    let mut hs = None;
    let mut got = Vec::new();
    for byte in wire {
        d.feed(&[byte]);
        if hs.is_none() {
            hs = d.next_handshake();
            continue;
        }
        while let Some(m) = d.next() {
            got.push(m.unwrap());
        }
    }
    assert_eq!(hs.unwrap().unwrap().info_hash, [9; 20]);
    assert_eq!(got, msgs);
}

#[test]
fn wrong_protocol_detected_early() {
    let mut d = MessageDecoder::default();
    d.feed(b"\x13BitTorrent prot");
    assert!(d.next_handshake().is_none());
    let mut d = MessageDecoder::default();
    d.feed(b"GET / HTTP/1.1");
    assert!(matches!(
        d.next_handshake(),
        Some(Err(Error::BadHandshake(_)))
    ));
    assert!(d.next().is_none());
}

#[test]
fn oversized_length_is_rejected_without_allocating() {
    let mut d = MessageDecoder::new(100);
    d.feed(&[0xff, 0xff, 0xff, 0xff, 7]);
    assert_eq!(
        d.next(),
        Some(Err(Error::MessageTooLong {
            len: u32::MAX,
            max: 100
        }))
    );
    assert!(d.buf.capacity() < 1024);
    // Poisoned: nothing more comes out.
    d.feed(&[0, 0, 0, 0]);
    assert!(d.next().is_none());
    let d = MessageDecoder::for_piece_count(1_000_000);
    assert_eq!(d.max_len(), 125_001);
}

#[test]
fn malformed_payloads() {
    let cases: &[&[u8]] = &[
        &[0, 0, 0, 2, id::CHOKE, 0],
        &[0, 0, 0, 4, id::HAVE, 0, 0, 0],
        &[0, 0, 0, 5, id::PIECE, 0, 0, 0, 0],
        &[0, 0, 0, 12, id::REQUEST, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0, 0, 0, 2, id::PORT, 1],
        &[0, 0, 0, 1, id::EXTENDED],
        &[0, 0, 0, 1, 99],
    ];
    for case in cases {
        let mut d = MessageDecoder::default();
        d.feed(case);
        assert!(matches!(d.next(), Some(Err(_))), "{case:?}");
    }
}

#[test]
fn piece_payload_is_zero_copy() {
    let wire = Message::Piece {
        index: 1,
        begin: 2,
        data: Bytes::from(vec![5u8; 64]),
    }
    .to_vec();
    let mut d = MessageDecoder::default();
    d.feed(&wire);
    let Some(Ok(Message::Piece { data, .. })) = d.next() else {
        panic!("expected a piece")
    };
    assert_eq!(&data[..], &[5u8; 64][..]);
    assert_eq!(&piece_header(1, 2, 64)[..], &wire[..13]);
}

#[test]
fn negotiation_is_enforced() {
    let mut d = MessageDecoder::default();
    d.set_negotiated(false, true);
    d.feed(&Message::HaveAll.to_vec());
    assert_eq!(d.next(), Some(Err(Error::FastNotNegotiated(id::HAVE_ALL))));
    let mut d = MessageDecoder::default();
    d.set_negotiated(true, false);
    d.feed(
        &Message::Extended {
            id: 1,
            payload: Bytes::new(),
        }
        .to_vec(),
    );
    assert_eq!(d.next(), Some(Err(Error::ExtensionNotNegotiated)));
}

#[test]
fn allowed_fast_bep6_vectors() {
    let ip = Ipv4Addr::new(80, 4, 4, 200);
    let hash = [0xaa; 20];
    assert_eq!(
        allowed_fast_set(ip, &hash, 1313, 7),
        vec![1059, 431, 808, 1217, 287, 376, 1188]
    );
    assert_eq!(
        allowed_fast_set(ip, &hash, 1313, 9),
        vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
    );
    // Same /24 → same set.
    assert_eq!(
        allowed_fast_set(Ipv4Addr::new(80, 4, 4, 1), &hash, 1313, 7),
        allowed_fast_set(ip, &hash, 1313, 7)
    );
    // k capped at the piece count; zero pieces is empty, not a panic.
    let mut small = allowed_fast_set(ip, &hash, 3, 10);
    small.sort();
    assert_eq!(small, vec![0, 1, 2]);
    assert!(allowed_fast_set(ip, &hash, 0, 10).is_empty());
}

#[test]
fn messages_read_as_aria2_logs_them() {
    let b = BlockRef {
        index: 3,
        begin: 16384,
        length: 16384,
    };
    assert_eq!(
        Message::Request(b).to_string(),
        "request index=3, begin=16384, length=16384"
    );
    assert_eq!(Message::HaveAll.to_string(), "have all");
    assert_eq!(Message::NotInterested.to_string(), "not interested");
    assert_eq!(Message::Have(7).to_string(), "have index=7");
    assert_eq!(
        Message::Bitfield(Bytes::from_static(&[0xff, 0x80])).to_string(),
        "bitfield ff80"
    );
    let mut id = [b'a'; 20];
    id[0] = b'-';
    id[19] = 0xff;
    let hs = Handshake {
        reserved: [0, 0, 0, 0, 0, 0x10, 0, 0x05],
        info_hash: [0; 20],
        peer_id: id,
    };
    assert_eq!(
        hs.to_string(),
        "handshake peerId=-aaaaaaaaaaaaaaaaaa%FF, reserved=0000000000100005"
    );
}
