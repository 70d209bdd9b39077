//! Peer wire messages written by hand, for the hostile and scripted peers
//! the tests play against arietta.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::wait_listening;

/// One length-prefixed peer message.
pub fn msg(id: u8, body: &[u8]) -> Vec<u8> {
    let mut m = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(body);
    m
}

/// Reads one length-prefixed message (`None` for a keep-alive).
pub fn read_msg(c: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    c.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(None);
    }
    let mut body = vec![0u8; len];
    c.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The 68-byte BitTorrent handshake.
pub fn handshake(reserved: [u8; 8], info_hash: &[u8; 20], peer_id: &[u8; 20]) -> Vec<u8> {
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&reserved);
    hs.extend_from_slice(info_hash);
    hs.extend_from_slice(peer_id);
    hs
}

/// Connects to arietta's `port` once it listens (10 s read timeout).
pub fn connect_peer(port: u16) -> TcpStream {
    assert!(
        wait_listening(port, Duration::from_secs(20)),
        "arietta never listened on {port}"
    );
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Connects to arietta's port and completes a plain handshake for
/// `info_hash` as the peer `-HOSTILE-0123456789-`.
pub fn hostile_connect(port: u16, info_hash: [u8; 20]) -> TcpStream {
    let mut s = connect_peer(port);
    s.write_all(&handshake([0; 8], &info_hash, b"-HOSTILE-0123456789-"))
        .unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &info_hash);
    s
}
