//! MSE handshakes end to end between an initiator and a receiver, RC4
//! against published vectors, and hostile input.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Runs both sides against each other, delivering `chunk` bytes at a
/// time, and returns their results.
fn run(
    init_level: CryptoLevel,
    recv_level: CryptoLevel,
    ia: &[u8],
    chunk: usize,
    seed: u64,
) -> Result<(Established, Established, Vec<u8>, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let ih = [0x5a; 20];
    let (mut a, mut to_b) = Initiator::new(ih, init_level, ia.to_vec(), &mut rng)?;
    let mut b = Receiver::new(vec![[1; 20], ih], recv_level, true, &mut rng);
    let mut to_a: Vec<u8> = Vec::new();
    let (mut done_a, mut done_b) = (None, None);
    // Payload A sends in the clear right after its step 3 would be
    // wrong (it does not know the method yet), so only B pipelines.
    for _ in 0..10_000 {
        if done_b.is_none() && !to_b.is_empty() {
            let n = chunk.min(to_b.len());
            let part: Vec<u8> = to_b.drain(..n).collect();
            let p = b.feed(&part)?;
            to_a.extend(p.output);
            if let Some(e) = p.established {
                let mut e = *e;
                let mut hello = b"payload from B".to_vec();
                e.cipher.encrypt(&mut hello);
                to_a.extend(hello);
                done_b = Some(e);
            }
        }
        if done_a.is_none() && !to_a.is_empty() {
            let n = chunk.min(to_a.len());
            let part: Vec<u8> = to_a.drain(..n).collect();
            let p = a.feed(&part)?;
            to_b.extend(p.output);
            if let Some(e) = p.established {
                done_a = Some(*e);
            }
        }
        if done_a.is_some() && done_b.is_some() {
            break;
        }
    }
    let (ea, eb) = (done_a.expect("A finished"), done_b.expect("B finished"));
    Ok((ea, eb, to_a, to_b))
}

fn collect_remaining(mut a: Established, rest: Vec<u8>) -> Vec<u8> {
    let mut rest = rest;
    a.cipher.decrypt(&mut rest);
    a.remaining.extend(rest);
    a.remaining
}

#[test]
fn rc4_handshake_whole_and_byte_by_byte() {
    for (chunk, seed) in [(usize::MAX, 1), (1, 2), (7, 3), (97, 4)] {
        let (mut a, mut b, to_a, _) = run(
            CryptoLevel::Arc4,
            CryptoLevel::Plain,
            b"\x13BitTorrent protocol",
            chunk,
            seed,
        )
        .unwrap();
        assert_eq!(a.method, CryptoMethod::Rc4);
        assert_eq!(b.method, CryptoMethod::Rc4);
        assert_eq!(b.info_hash, [0x5a; 20]);
        assert_eq!(b.initial_payload, b"\x13BitTorrent protocol");
        // Payload B pipelined behind step 4 arrives decrypted.
        let mut cipher = std::mem::replace(&mut a.cipher, PayloadCipher::Plain);
        let mut rest = to_a;
        cipher.decrypt(&mut rest);
        let mut got = a.remaining.clone();
        got.extend(rest);
        assert_eq!(got, b"payload from B");
        // And the streams keep working both ways.
        let mut msg = b"A to B".to_vec();
        cipher.encrypt(&mut msg);
        assert_ne!(msg, b"A to B");
        b.cipher.decrypt(&mut msg);
        assert_eq!(msg, b"A to B");
    }
}

#[test]
fn plain_selected_when_both_allow_it() {
    let (a, b, to_a, _) = run(CryptoLevel::Plain, CryptoLevel::Plain, b"", 13, 9).unwrap();
    assert_eq!(a.method, CryptoMethod::Plain);
    assert_eq!(b.method, CryptoMethod::Plain);
    assert_eq!(collect_remaining(a, to_a), b"payload from B");
    assert!(b.initial_payload.is_empty());
}

#[test]
fn receiver_requiring_rc4_picks_rc4() {
    let (a, _, _, _) = run(CryptoLevel::Plain, CryptoLevel::Arc4, b"", 50, 11).unwrap();
    assert_eq!(a.method, CryptoMethod::Rc4);
}

#[test]
fn unknown_info_hash_is_refused() {
    let mut rng = StdRng::seed_from_u64(5);
    let (mut a, to_b) = Initiator::new([7; 20], CryptoLevel::Plain, vec![], &mut rng).unwrap();
    let mut b = Receiver::new(vec![[8; 20]], CryptoLevel::Plain, false, &mut rng);
    let p = b.feed(&to_b).unwrap();
    let p = a.feed(&p.output).unwrap();
    assert!(matches!(b.feed(&p.output), Err(Error::Mse(_))));
}

#[test]
fn garbage_never_syncs() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut b = Receiver::new(vec![[8; 20]], CryptoLevel::Plain, false, &mut rng);
    let mut garbage = vec![0u8; 96 + MAX_PAD + 20];
    rng.fill_bytes(&mut garbage);
    garbage[0] = 0x80; // a valid-looking Ya
    let r = b.feed(&garbage);
    assert!(matches!(r, Err(Error::Mse(_))), "{r:?}");
    // Poisoned afterwards.
    assert!(b.feed(&[0]).is_err());
    // A degenerate public key is refused outright.
    let mut b = Receiver::new(vec![[8; 20]], CryptoLevel::Plain, false, &mut rng);
    let mut one = [0u8; 96];
    one[95] = 1;
    assert!(b.feed(&one).is_err());
}

#[test]
fn legacy_plain_handshake_detected() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut b = Receiver::new(vec![[8; 20]], CryptoLevel::Plain, true, &mut rng);
    let hs = crate::peer_wire::Handshake::new([8; 20], [1; 20], false).encode();
    assert!(b.feed(&hs[..5]).unwrap().established.is_none());
    let p = b.feed(&hs[5..]).unwrap();
    let e = p.established.unwrap();
    assert!(e.legacy_plaintext);
    assert_eq!(e.remaining, hs);
    assert!(p.output.is_empty());
    // Crypto required: refused at once, not after waiting for a Ya.
    let mut b = Receiver::new(vec![[8; 20]], CryptoLevel::Plain, false, &mut rng);
    assert!(b.feed(&hs[..20]).is_err());
}

#[test]
fn rc4_discards_first_1024_bytes_rfc6229() {
    // RFC 6229, 128-bit key 0x0102…10, keystream at offset 1024.
    let mut c = Rc4Stream::with_key(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    c.apply(&mut [0u8; 1024]);
    let mut ks = [0u8; 16];
    c.apply(&mut ks);
    assert_eq!(
        ks,
        [
            0xbd, 0xf0, 0x32, 0x4e, 0x60, 0x83, 0xdc, 0xc6, 0xd3, 0xce, 0xdd, 0x3c, 0xa8, 0xc5,
            0x3c, 0x16
        ]
    );
}

#[test]
fn rc4_matches_the_rc4_crate() {
    use rc4::cipher::generic_array::GenericArray;
    use rc4::{KeyInit, StreamCipher};
    let mut rng = StdRng::seed_from_u64(12);
    for round in 0..20 {
        let mut key = [0u8; 20];
        rng.fill_bytes(&mut key);
        let ours_cipher = &mut Rc4Stream::new(key);
        let mut theirs = rc4::Rc4::<rc4::consts::U20>::new(GenericArray::from_slice(&key));
        theirs.apply_keystream(&mut [0u8; 1024]);
        // Uneven chunks: the state must carry across calls.
        for len in [1usize, 7, 256, 4096 + round] {
            let mut data = vec![0u8; len];
            rng.fill_bytes(&mut data);
            let mut ours = data.clone();
            ours_cipher.apply(&mut ours);
            theirs.apply_keystream(&mut data);
            assert_eq!(ours, data);
        }
    }
}

#[test]
fn dh_agrees() {
    let mut rng = StdRng::seed_from_u64(8);
    let a = DhKey::generate(&mut rng);
    let b = DhKey::generate(&mut rng);
    assert_eq!(a.shared(&b.public).unwrap(), b.shared(&a.public).unwrap());
}

/// Runs an initiator for `ih` offering both methods against `b`, whole
/// messages at a time; the method B chose.
fn method_chosen(ih: [u8; 20], mut b: Receiver, rng: &mut StdRng) -> Result<CryptoMethod> {
    let (mut a, first) = Initiator::new(ih, CryptoLevel::Plain, b"ia".to_vec(), rng)?;
    let mut to_b = first;
    for _ in 0..10 {
        let p = b.feed(&std::mem::take(&mut to_b))?;
        if let Some(e) = p.established {
            return Ok(e.method);
        }
        let q = a.feed(&p.output)?;
        to_b = q.output;
    }
    Err(Error::Mse("no agreement"))
}

#[test]
fn a_shared_receiver_chooses_with_the_asked_torrents_level() {
    let mut rng = StdRng::seed_from_u64(7);
    let torrents = vec![([1; 20], CryptoLevel::Plain), ([2; 20], CryptoLevel::Arc4)];
    let b = Receiver::for_torrents(torrents.clone(), true, &mut rng);
    assert_eq!(
        method_chosen([1; 20], b, &mut rng).unwrap(),
        CryptoMethod::Plain
    );
    let b = Receiver::for_torrents(torrents.clone(), true, &mut rng);
    assert_eq!(
        method_chosen([2; 20], b, &mut rng).unwrap(),
        CryptoMethod::Rc4
    );
    let b = Receiver::for_torrents(torrents, true, &mut rng);
    assert!(
        method_chosen([3; 20], b, &mut rng).is_err(),
        "unknown torrent"
    );
}
