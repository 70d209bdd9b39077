//! The header every datagram through a SOCKS5 UDP relay carries (RFC 1928
//! §7): `RSV(2) FRAG(1) ATYP ADDR PORT`, then the payload. Towards the
//! relay it names the destination; from the relay, the source.

use crate::error::Socks5Error;
use crate::handshake::{decode_host, ATYP_DOMAIN, ATYP_V4, ATYP_V6};
use crate::Target;

/// The longest header: a 255-byte domain. A receive buffer this much
/// larger than the biggest payload expected never truncates one.
pub const MAX_HEADER: usize = 3 + 1 + 1 + 255 + 2;

/// A datagram as the relay delivered it.
#[derive(Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Who sent the payload to the relay (relays write an address; a
    /// domain is taken too).
    pub from: Target,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

/// `payload` with the header for destination `to` in front, ready to send
/// to the relay. `FRAG` is 0: datagrams are never split.
pub fn encode_datagram(to: &Target, payload: &[u8]) -> Result<Vec<u8>, Socks5Error> {
    to.check_len()?;
    let mut out = Vec::with_capacity(MAX_HEADER + payload.len());
    out.extend_from_slice(&[0, 0, 0]);
    to.encode(&mut out);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Splits a datagram from the relay into its source and payload. A
/// fragment is an error ([`Socks5Error::Fragmented`]): reassembly is
/// optional in RFC 1928 and fragments are dropped, as the RFC allows.
pub fn decode_datagram(d: &[u8]) -> Result<Datagram<'_>, Socks5Error> {
    if d.len() < 4 || d[0] != 0 || d[1] != 0 {
        return Err(Socks5Error::BadDatagram);
    }
    if d[2] != 0 {
        return Err(Socks5Error::Fragmented(d[2]));
    }
    let addr_len = match d[3] {
        ATYP_V4 => 4,
        ATYP_V6 => 16,
        ATYP_DOMAIN => 1 + usize::from(*d.get(4).ok_or(Socks5Error::BadDatagram)?),
        t => return Err(Socks5Error::BadAddressType(t)),
    };
    let end = 4 + addr_len + 2;
    if d.len() < end {
        return Err(Socks5Error::BadDatagram);
    }
    let host = decode_host(d[3], &d[4..4 + addr_len]);
    let port = u16::from_be_bytes([d[end - 2], d[end - 1]]);
    Ok(Datagram {
        from: Target { host, port },
        payload: &d[end..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetHost;

    #[test]
    fn round_trips_each_address_type() {
        for to in [
            Target::new("127.0.0.1", 6969),
            Target::new("[2001:db8::1]", 6881),
            Target::new("tracker.example.org", 1337),
        ] {
            let d = encode_datagram(&to, b"payload").unwrap();
            let got = decode_datagram(&d).unwrap();
            assert_eq!(got.from, to);
            assert_eq!(got.payload, b"payload");
        }
    }

    #[test]
    fn the_header_is_rfc_1928s() {
        let d = encode_datagram(&Target::new("10.0.0.1", 80), b"x").unwrap();
        assert_eq!(d, [0, 0, 0, 1, 10, 0, 0, 1, 0, 80, b'x']);
        let mut named = vec![0, 0, 0, 3, 1, b'h', 0, 1];
        named.extend_from_slice(b"hi");
        let got = decode_datagram(&named).unwrap();
        assert_eq!(got.from.host, TargetHost::Domain("h".into()));
        assert_eq!(got.payload, b"hi");
        // An empty payload is a datagram too.
        assert!(decode_datagram(&[0, 0, 0, 1, 1, 2, 3, 4, 0, 1])
            .unwrap()
            .payload
            .is_empty());
    }

    #[test]
    fn fragments_and_malformed_headers_are_refused() {
        assert!(matches!(
            decode_datagram(&[0, 0, 1, 1, 1, 2, 3, 4, 0, 1, b'x']),
            Err(Socks5Error::Fragmented(1))
        ));
        for bad in [
            &[][..],
            &[0, 0, 0],
            &[0, 1, 0, 1, 1, 2, 3, 4, 0, 1],
            &[0, 0, 0, 1, 1, 2, 3, 4, 0],
            &[0, 0, 0, 3],
            &[0, 0, 0, 3, 5, b'h', 0, 1],
            &[
                0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ] {
            assert!(
                matches!(decode_datagram(bad), Err(Socks5Error::BadDatagram)),
                "{bad:?}"
            );
        }
        assert!(matches!(
            decode_datagram(&[0, 0, 0, 2, 0]),
            Err(Socks5Error::BadAddressType(2))
        ));
        let long = Target::new(&"x".repeat(256), 1);
        assert!(encode_datagram(&long, b"").is_err());
    }
}
