//! HTTPS for `klaxon serve`: a certificate and key from PEM files (`--tls-cert`/`--tls-key`),
//! or a self-signed one made at start (`--tls-self-signed`), served with rustls.
//!
//! The self-signed setup is a small local authority and a server certificate it signs, both
//! made afresh at every start in `<data dir>/tls/`: `ca.pem` is the file a client trusts (its
//! CA bundle), `server.pem`/`server-key.pem` what the server presents. A separate authority,
//! rather than one self-signed server certificate, because strict verifiers (webpki, OpenSSL
//! in X.509 strict mode) refuse a certificate that is both the trust anchor and the server's.
//! The server certificate names `localhost`, `127.0.0.1`, `::1` and the listen address.
//!
//! A plain-HTTP request to the TLS port is answered `400` with a one-line explanation (it is
//! recognised by its first byte, which is never a TLS handshake's), then the connection closes.

use super::RuntimeError;
use super::data_dir::{self, DataDir};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate chain (server first) and its private key.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A local authority and a server certificate made at start, in `<data dir>/tls/`.
    SelfSigned,
}

/// The TLS side of a started server.
#[derive(Clone)]
pub(super) struct Tls {
    pub(super) acceptor: TlsAcceptor,
    /// The file a client trusts: the self-signed authority, or the given certificate.
    pub(super) trust_file: PathBuf,
}

/// The PEM file a client trusts when the certificate is self-signed.
pub fn self_signed_ca_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("ca.pem")
}

fn invalid(path: &Path, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Loads or makes the certificate and builds the acceptor.
pub(super) fn prepare(
    source: &TlsSource,
    data_dir: &DataDir,
    listen: SocketAddr,
) -> Result<Tls, RuntimeError> {
    let (chain, key, trust_file) = match source {
        TlsSource::Files { cert, key } => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| invalid(cert, format!("not a PEM certificate file: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(cert, format!("not a PEM certificate file: {e}")))?;
            if chain.is_empty() {
                return Err(invalid(cert, "holds no certificate"));
            }
            let private = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| invalid(key, format!("not a PEM private key file: {e}")))?;
            (chain, private, cert.clone())
        }
        TlsSource::SelfSigned => self_signed(data_dir, listen)?,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RuntimeError::Internal(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            invalid(
                &trust_file,
                format!("the certificate and key do not fit: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        trust_file,
    })
}

/// The names the self-signed server certificate is valid for.
fn subject_names(listen: SocketAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        IpAddr::V4(Ipv4Addr::LOCALHOST).to_string(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).to_string(),
    ];
    let ip = listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}

type Material = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
);

fn self_signed(data_dir: &DataDir, listen: SocketAddr) -> Result<Material, RuntimeError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_path = self_signed_ca_path(data_dir.root());
    let failed = |e: rcgen::Error| invalid(&ca_path, format!("making the certificate: {e}"));
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, "Klaxon local authority");
    let ca_key = KeyPair::generate().map_err(failed)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let mut server = CertificateParams::new(subject_names(listen)).map_err(failed)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "Klaxon local server");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate().map_err(failed)?;
    let issuer = Issuer::new(ca, ca_key);
    let server_cert = server.signed_by(&server_key, &issuer).map_err(failed)?;

    let dir = data_dir.root().join("tls");
    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("create", &dir, e))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| RuntimeError::io("write", &path, e))
    };
    write("ca.pem", &ca_cert.pem())?;
    write(
        "server.pem",
        &format!("{}{}", server_cert.pem(), ca_cert.pem()),
    )?;
    data_dir::write_private(&dir.join("server-key.pem"), &server_key.serialize_pem())?;
    let key = PrivateKeyDer::try_from(server_key.serialize_der())
        .map_err(|e| invalid(&ca_path, format!("the generated key: {e}")))?;
    Ok((
        vec![server_cert.der().clone(), ca_cert.der().clone()],
        key,
        ca_path,
    ))
}

/// Serves `router` over TLS on `listener` until `stop` is cancelled, then lets the requests
/// in progress finish.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) -> io::Result<()> {
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let stop = stop.clone();
        tracker.spawn(async move {
            if let Err(error) = connection(stream, router, acceptor, stop).await {
                tracing::debug!(%peer, %error, "TLS connection ended with an error");
            }
        });
    }
    tracker.close();
    tracker.wait().await;
    Ok(())
}

const PLAIN_HTTP_BODY: &str = "This port speaks HTTPS: use an https:// URL to reach it.\n";

/// The whole answer to a plain-HTTP request on the TLS port.
fn plain_http_answer() -> String {
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{PLAIN_HTTP_BODY}",
        PLAIN_HTTP_BODY.len()
    )
}

async fn connection(
    stream: TcpStream,
    router: Router,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // A TLS connection starts with a handshake record (0x16); anything else is not TLS.
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 1 && first[0] != 0x16 {
        let mut stream = stream;
        stream.write_all(plain_http_answer().as_bytes()).await?;
        stream.shutdown().await?;
        return Ok(());
    }
    let tls = acceptor.accept(stream).await?;
    let service = TowerToHyperService::new(router);
    let builder = Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result?,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_has_the_length_it_announces() {
        let text = plain_http_answer();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }

    #[test]
    fn the_self_signed_certificate_names_loopback_and_the_listen_address() {
        let names = subject_names("10.1.2.3:8443".parse().unwrap());
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "10.1.2.3"]);
        let names = subject_names("0.0.0.0:8443".parse().unwrap());
        assert_eq!(names, ["localhost", "127.0.0.1", "::1"]);
    }
}
