//! Fuzzes the MSE receiver (and initiator). Mode 0 feeds arbitrary bytes
//! straight in; mode 1 runs a genuine handshake but XORs the fuzz input
//! into the initiator's step 3, so the encrypted fields (VC, crypto_provide,
//! PadC, IA lengths) take fuzzer-chosen values; mode 2 feeds arbitrary
//! bytes to an initiator.
#![no_main]

use arietta_bt::mse::{CryptoLevel, Initiator, Receiver};
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;

const HASH: [u8; 20] = [0x42; 20];

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(control >> 2).max(1);
    let mut rng = StdRng::seed_from_u64(u64::from(control));
    match control & 3 {
        0 => {
            let mut b = Receiver::new(
                vec![HASH],
                CryptoLevel::Plain,
                control & 0x80 != 0,
                &mut rng,
            );
            for chunk in data.chunks(step) {
                match b.feed(chunk) {
                    Ok(p) if p.established.is_some() => return,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }
        1 => {
            let (mut a, ya) =
                Initiator::new(HASH, CryptoLevel::Plain, vec![1, 2, 3], &mut rng).unwrap();
            let mut b = Receiver::new(vec![HASH], CryptoLevel::Plain, false, &mut rng);
            let yb = b.feed(&ya).unwrap().output;
            let mut step3 = a.feed(&yb).unwrap().output;
            for (byte, f) in step3.iter_mut().skip(40).zip(data) {
                *byte ^= f;
            }
            step3.extend_from_slice(data.get(step3.len().saturating_sub(40)..).unwrap_or(&[]));
            for chunk in step3.chunks(step) {
                match b.feed(chunk) {
                    Ok(p) if p.established.is_some() => return,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }
        _ => {
            let (mut a, _) = Initiator::new(HASH, CryptoLevel::Arc4, vec![], &mut rng).unwrap();
            for chunk in data.chunks(step) {
                match a.feed(chunk) {
                    Ok(p) if p.established.is_some() => return,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }
    }
});
