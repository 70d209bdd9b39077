//! TLS client configuration (aria2's `--ca-certificate`, `--check-certificate`,
//! `--certificate`, `--private-key`) and the client handshake over a glommio
//! `TcpStream`.
//!
//! Building a `ClientConfig` reads the system trust store (hundreds of
//! certificates parsed) and is far too slow to repeat per connection, so
//! [`client_config`] memoises one `Arc` per distinct [`TlsOptions`] for the
//! life of the process; connections share it and rustls shares its session
//! cache through it, giving resumption across connections to a mirror.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use futures_rustls::TlsConnector;
use glommio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::NetError;

/// A client-side TLS stream over glommio TCP.
pub type TlsStream = futures_rustls::client::TlsStream<TcpStream>;

/// The TLS-related options of aria2, as parsed by the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// `--ca-certificate`: PEM file of extra trusted CAs, added to the system
    /// store.
    pub ca_certificate: Option<PathBuf>,
    /// `--check-certificate` (default true). When false any server certificate
    /// is accepted, but handshake signatures are still verified so the peer
    /// must at least hold the key of the certificate it shows.
    pub check_certificate: bool,
    /// `--certificate`: PEM client certificate chain (leaf first).
    pub certificate: Option<PathBuf>,
    /// `--private-key`: PEM key for `certificate` (PKCS#8, PKCS#1 or SEC1).
    /// When absent the key is looked for in the certificate file.
    pub private_key: Option<PathBuf>,
    /// `--min-tls-version=TLSv1.3`: refuse TLS 1.2 servers. `TLSv1.2` (the
    /// default) and `TLSv1.1` both leave this off: rustls speaks no TLS
    /// older than 1.2, so 1.2 is the floor either way.
    pub tls13_only: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca_certificate: None,
            check_certificate: true,
            certificate: None,
            private_key: None,
            tls13_only: false,
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system trust store, or webpki-roots' Mozilla bundle when the system
/// has none (minimal containers without ca-certificates). Loaded once.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        // Individual unparsable system certificates are skipped, as every
        // other TLS client does.
        let _ = store.add_parsable_certificates(native.certs);
        if store.is_empty() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    })
}

/// Returns the shared client configuration for `opts`, building it on first
/// use. Safe to call from every core; the result is the same `Arc`.
///
/// Errors ([`NetError::TlsConfig`]): an unreadable or certificate-less
/// `--ca-certificate`, a client certificate without a usable key, or a key
/// that does not match the certificate.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, NetError> {
    static BUILT: Mutex<Vec<(TlsOptions, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let lock = || {
        BUILT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some((_, cfg)) = lock().iter().find(|(o, _)| o == opts) {
        return Ok(cfg.clone());
    }
    // Built outside the lock: reading the trust store can take a while and
    // other cores may want an already-built config meanwhile.
    let cfg = Arc::new(build_config(opts)?);
    let mut built = lock();
    if let Some((_, existing)) = built.iter().find(|(o, _)| o == opts) {
        return Ok(existing.clone());
    }
    built.push((opts.clone(), cfg.clone()));
    Ok(cfg)
}

/// [`client_config`] that also offers `h2` in ALPN (before `http/1.1`),
/// for `--enable-http2`. A separate cache: the default config must keep
/// offering `http/1.1` alone, as aria2 does.
pub fn client_config_h2(opts: &TlsOptions) -> Result<Arc<ClientConfig>, NetError> {
    static BUILT: Mutex<Vec<(TlsOptions, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let lock = || {
        BUILT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some((_, cfg)) = lock().iter().find(|(o, _)| o == opts) {
        return Ok(cfg.clone());
    }
    let mut cfg = (*client_config(opts)?).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let cfg = Arc::new(cfg);
    lock().push((opts.clone(), cfg.clone()));
    Ok(cfg)
}

fn config_err(path: &Path, what: impl std::fmt::Display) -> NetError {
    NetError::TlsConfig(format!("{}: {what}", path.display()))
}

fn open(path: &Path) -> Result<BufReader<File>, NetError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| config_err(path, e))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, io::Error>>()
        .map_err(|e| config_err(path, e))?;
    if certs.is_empty() {
        return Err(config_err(
            path,
            "no PEM certificate found (only PEM is supported, not PKCS#12/DER)",
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|e| config_err(path, e))?
        .ok_or_else(|| {
            config_err(
                path,
                "no PEM private key found (PKCS#8, PKCS#1 or SEC1 expected)",
            )
        })
}

fn build_config(opts: &TlsOptions) -> Result<ClientConfig, NetError> {
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| NetError::TlsConfig(e.to_string()))?;
    let builder = if opts.check_certificate {
        let mut roots = system_roots().clone();
        if let Some(path) = &opts.ca_certificate {
            let (added, _ignored) = roots.add_parsable_certificates(read_certs(path)?);
            if added == 0 {
                return Err(config_err(path, "no usable CA certificate"));
            }
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    };
    let mut cfg = match (&opts.certificate, &opts.private_key) {
        (None, None) => builder.with_no_client_auth(),
        (None, Some(key)) => {
            return Err(config_err(key, "--private-key given without --certificate"))
        }
        (Some(cert), key) => {
            let chain = read_certs(cert)?;
            let key = read_key(key.as_deref().unwrap_or(cert))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config_err(cert, e))?
        }
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Honour SSLKEYLOGFILE like aria2 does, for debugging with Wireshark.
    cfg.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(cfg)
}

/// `--check-certificate=false`: trusts any chain and name, but still checks
/// the handshake signatures against the presented certificate.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs the TLS client handshake on an established connection.
///
/// `server_name` is the URL host: a DNS name is sent as SNI and checked
/// against the certificate; an IP literal (brackets allowed) is checked
/// against the certificate's IP SANs and sends no SNI.
///
/// A failure reported by rustls (untrusted certificate, name mismatch, alert)
/// is [`NetError::Tls`] with rustls' message; the peer closing or resetting
/// mid-handshake is [`NetError::Io`].
pub async fn connect_tls(
    tcp: TcpStream,
    server_name: &str,
    cfg: Arc<ClientConfig>,
) -> Result<TlsStream, NetError> {
    let bare = server_name
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(server_name);
    let name = ServerName::try_from(bare.to_string())
        .map_err(|e| NetError::Tls(format!("invalid server name {server_name}: {e}")))?;
    TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(handshake_error)
}

fn handshake_error(e: io::Error) -> NetError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => NetError::Tls(tls.to_string()),
        None => NetError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::happy_eyeballs::test_executor;
    use crate::{connect, NetStream};
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    use rustls::server::WebPkiClientVerifier;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::thread::JoinHandle;
    use std::time::Duration;

    /// A private CA, a server certificate for localhost/127.0.0.1 and a
    /// client certificate, all written as PEM files.
    struct Pki {
        dir: tempfile::TempDir,
        ca_der: CertificateDer<'static>,
        server_chain: Vec<CertificateDer<'static>>,
        server_key: PrivateKeyDer<'static>,
    }

    impl Pki {
        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
    }

    fn make_pki() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "arietta test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params
            .distinguished_name
            .push(DnType::CommonName, "arietta client");
        let client = client_params.signed_by(&client_key, &ca).unwrap();

        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", &ca.pem());
        write("client.pem", &client.pem());
        write("client.key", &client_key.serialize_pem());
        write(
            "client-combined.pem",
            &format!("{}{}", client.pem(), client_key.serialize_pem()),
        );
        write("empty.pem", "not a certificate\n");
        Pki {
            ca_der: ca.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key: PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
            dir,
        }
    }

    /// Serves one TLS connection from a std thread: says "hello", then
    /// closes cleanly. Returns whether the client presented a certificate.
    fn spawn_server(
        pki: &Pki,
        require_client_cert: bool,
    ) -> (SocketAddr, JoinHandle<Result<bool, String>>) {
        spawn_server_with(pki, require_client_cert, rustls::DEFAULT_VERSIONS)
    }

    fn spawn_server_with(
        pki: &Pki,
        require_client_cert: bool,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> (SocketAddr, JoinHandle<Result<bool, String>>) {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(pki.ca_der.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut cfg = builder
            .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(cfg)).map_err(|e| e.to_string())?;
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut req = [0u8; 4];
            tls.read_exact(&mut req).map_err(|e| e.to_string())?;
            if &req != b"ping" {
                return Err("bad request".into());
            }
            let had_cert = tls.conn.peer_certificates().is_some();
            tls.write_all(b"hello").map_err(|e| e.to_string())?;
            tls.conn.send_close_notify();
            tls.flush().map_err(|e| e.to_string())?;
            Ok(had_cert)
        });
        (addr, handle)
    }

    /// Connects, handshakes, sends "ping" and reads the reply to EOF.
    async fn exchange(
        addr: SocketAddr,
        name: &str,
        cfg: Arc<ClientConfig>,
    ) -> Result<(String, NetStream), NetError> {
        let tcp = connect(&[addr], Duration::from_secs(5)).await?;
        let mut stream = NetStream::from(connect_tls(tcp, name, cfg).await?);
        stream.write_all(b"ping").await?;
        stream.flush().await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        Ok((reply, stream))
    }

    fn run_client(
        addr: SocketAddr,
        name: &'static str,
        cfg: Arc<ClientConfig>,
    ) -> Result<(String, bool, Option<Vec<u8>>), String> {
        let (tx, rx) = std::sync::mpsc::channel();
        test_executor(move || async move {
            let r = exchange(addr, name, cfg).await.map(|(reply, s)| {
                assert_eq!(s.peer_addr().unwrap(), addr);
                (reply, s.is_tls(), s.alpn_protocol().map(<[u8]>::to_vec))
            });
            let r = r.map_err(|e| {
                assert!(matches!(e, NetError::Tls(_) | NetError::Io(_)), "{e}");
                e.to_string()
            });
            tx.send(r).unwrap();
        });
        rx.recv().unwrap()
    }

    fn opts_with_ca(pki: &Pki) -> TlsOptions {
        TlsOptions {
            ca_certificate: Some(pki.path("ca.pem")),
            ..TlsOptions::default()
        }
    }

    #[test]
    fn trusted_through_ca_file() {
        let pki = make_pki();
        let cfg = client_config(&opts_with_ca(&pki)).unwrap();
        for name in ["localhost", "127.0.0.1"] {
            let (addr, server) = spawn_server(&pki, false);
            let (reply, tls, alpn) = run_client(addr, name, cfg.clone()).unwrap();
            assert_eq!(reply, "hello");
            assert!(tls);
            assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
            assert_eq!(server.join().unwrap(), Ok(false));
        }
    }

    #[test]
    fn untrusted_certificate_is_rejected() {
        let pki = make_pki();
        let (addr, server) = spawn_server(&pki, false);
        let cfg = client_config(&TlsOptions::default()).unwrap();
        let err = run_client(addr, "localhost", cfg).unwrap_err();
        assert!(err.contains("TLS handshake failed"), "{err}");
        assert!(err.to_lowercase().contains("issuer"), "{err}");
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn wrong_name_is_rejected() {
        let pki = make_pki();
        let (addr, server) = spawn_server(&pki, false);
        let cfg = client_config(&opts_with_ca(&pki)).unwrap();
        let err = run_client(addr, "mirror.example.org", cfg).unwrap_err();
        assert!(err.contains("TLS handshake failed"), "{err}");
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn check_certificate_false_accepts_untrusted() {
        let pki = make_pki();
        let (addr, server) = spawn_server(&pki, false);
        let opts = TlsOptions {
            check_certificate: false,
            ..TlsOptions::default()
        };
        let cfg = client_config(&opts).unwrap();
        let (reply, _, _) = run_client(addr, "mirror.example.org", cfg).unwrap();
        assert_eq!(reply, "hello");
        assert_eq!(server.join().unwrap(), Ok(false));
    }

    #[test]
    fn min_tls_version_13_refuses_a_tls12_server() {
        let pki = make_pki();
        let tls12 = [&rustls::version::TLS12];
        let (addr, server) = spawn_server_with(&pki, false, &tls12);
        let cfg = client_config(&opts_with_ca(&pki)).unwrap();
        let (reply, _, _) = run_client(addr, "localhost", cfg).unwrap();
        assert_eq!(reply, "hello");
        assert!(server.join().unwrap().is_ok());

        let strict = TlsOptions {
            tls13_only: true,
            ..opts_with_ca(&pki)
        };
        let (addr, server) = spawn_server_with(&pki, false, &tls12);
        let cfg = client_config(&strict).unwrap();
        let err = run_client(addr, "localhost", cfg).unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        assert!(server.join().unwrap().is_err());
        // A TLS 1.3 server is fine.
        let (addr, server) = spawn_server(&pki, false);
        let (reply, _, _) = run_client(addr, "localhost", client_config(&strict).unwrap()).unwrap();
        assert_eq!(reply, "hello");
        assert!(server.join().unwrap().is_ok());
    }

    #[test]
    fn client_certificate_authentication() {
        let pki = make_pki();
        let separate = TlsOptions {
            certificate: Some(pki.path("client.pem")),
            private_key: Some(pki.path("client.key")),
            ..opts_with_ca(&pki)
        };
        // Key and certificate in one file, as `--certificate` alone.
        let combined = TlsOptions {
            certificate: Some(pki.path("client-combined.pem")),
            ..opts_with_ca(&pki)
        };
        for opts in [separate, combined] {
            let (addr, server) = spawn_server(&pki, true);
            let cfg = client_config(&opts).unwrap();
            let (reply, _, _) = run_client(addr, "localhost", cfg).unwrap();
            assert_eq!(reply, "hello");
            assert_eq!(server.join().unwrap(), Ok(true));
        }
        // Without a certificate the server refuses (with TLS 1.3 the client
        // learns it on the first read, hence the whole exchange must fail).
        let (addr, server) = spawn_server(&pki, true);
        let cfg = client_config(&opts_with_ca(&pki)).unwrap();
        assert!(run_client(addr, "localhost", cfg).is_err());
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn config_is_built_once_per_options() {
        let pki = make_pki();
        let a = client_config(&opts_with_ca(&pki)).unwrap();
        let b = client_config(&opts_with_ca(&pki)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = client_config(&TlsOptions::default()).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn bad_files_are_config_errors() {
        let pki = make_pki();
        let cases = [
            TlsOptions {
                ca_certificate: Some(pki.path("missing.pem")),
                ..TlsOptions::default()
            },
            TlsOptions {
                ca_certificate: Some(pki.path("empty.pem")),
                ..TlsOptions::default()
            },
            TlsOptions {
                private_key: Some(pki.path("client.key")),
                ..TlsOptions::default()
            },
            // A certificate without any key.
            TlsOptions {
                certificate: Some(pki.path("client.pem")),
                ..TlsOptions::default()
            },
            // A key that does not match the certificate.
            TlsOptions {
                certificate: Some(pki.path("ca.pem")),
                private_key: Some(pki.path("client.key")),
                ..TlsOptions::default()
            },
        ];
        for opts in cases {
            let err = client_config(&opts).unwrap_err();
            assert!(matches!(err, NetError::TlsConfig(_)), "{opts:?}: {err}");
            assert_eq!(err.aria2_exit_code(), 1);
        }
    }

    #[test]
    fn invalid_server_name_is_tls_error() {
        test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let tcp = connect(&[listener.local_addr().unwrap()], Duration::from_secs(5))
                .await
                .unwrap();
            let cfg = client_config(&TlsOptions::default()).unwrap();
            let err = connect_tls(tcp, "bad name!", cfg).await.unwrap_err();
            assert!(matches!(err, NetError::Tls(_)), "{err}");
        });
    }
}
