//! SNS message signature verification.
//!
//! SNS signs each HTTPS delivery with the private key of a certificate it publishes at
//! `SigningCertURL`. We only ever fetch certificates from `https://sns.<region>.amazonaws.com/`
//! (a message pointing anywhere else is refused before any request is made), cache them by URL,
//! and check the RSA PKCS#1 v1.5 signature over the canonical string to sign: SHA1 for
//! `SignatureVersion` 1, SHA256 for 2.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The signature algorithm, from `SignatureVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsSignatureVersion {
    /// `1`: SHA1withRSA.
    V1,
    /// `2`: SHA256withRSA.
    V2,
}

/// Why an SNS message was refused.
#[derive(Debug, thiserror::Error)]
pub enum SnsVerifyError {
    /// The certificate URL is not an SNS endpoint over HTTPS.
    #[error("SigningCertURL {0:?} is not https://sns.<region>.amazonaws.com/…pem")]
    UntrustedCertUrl(String),
    /// The certificate could not be fetched.
    #[error("could not fetch the signing certificate: {0}")]
    Fetch(String),
    /// The certificate is not a PEM X.509 certificate with an RSA key.
    #[error("the signing certificate is unusable: {0}")]
    BadCertificate(String),
    /// The signature does not verify.
    #[error("the message signature does not verify")]
    BadSignature,
}

/// HTTP GET, used to fetch signing certificates and to confirm subscriptions. A port so tests
/// can serve their own certificate and observe confirmations.
pub trait HttpGet: Send + Sync {
    /// The body at `url`.
    fn get(&self, url: &str) -> impl std::future::Future<Output = Result<Vec<u8>, String>> + Send;
}

/// [`HttpGet`] with reqwest.
#[derive(Debug, Clone, Default)]
pub struct ReqwestHttpGet {
    client: reqwest::Client,
}

impl ReqwestHttpGet {
    /// A fetcher using `client` (build it once: it holds the connection pool).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl HttpGet for ReqwestHttpGet {
    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }
}

/// Whether `url` is an SNS signing certificate URL we are willing to fetch.
pub fn is_trusted_cert_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    is_sns_host(&parsed) && parsed.path().ends_with(".pem")
}

/// Whether `url` is an SNS `ConfirmSubscription` URL we are willing to visit.
pub fn is_trusted_subscribe_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    is_sns_host(&parsed)
        && parsed
            .query_pairs()
            .any(|(k, v)| k == "Action" && v == "ConfirmSubscription")
}

fn is_sns_host(parsed: &url::Url) -> bool {
    if parsed.scheme() != "https" || parsed.port().is_some() || !parsed.username().is_empty() {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let Some(region) = host
        .strip_prefix("sns.")
        .and_then(|h| h.strip_suffix(".amazonaws.com"))
    else {
        return false;
    };
    !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Verifies SNS signatures, caching certificates' public keys by URL.
#[derive(Debug)]
pub struct SnsVerifier<F> {
    fetcher: F,
    keys: RwLock<HashMap<String, Arc<Vec<u8>>>>,
}

impl<F: HttpGet> SnsVerifier<F> {
    /// A verifier that fetches with `fetcher`.
    pub fn new(fetcher: F) -> Self {
        Self {
            fetcher,
            keys: RwLock::new(HashMap::new()),
        }
    }

    async fn public_key(&self, cert_url: &str) -> Result<Arc<Vec<u8>>, SnsVerifyError> {
        if let Some(key) = self.keys.read().await.get(cert_url) {
            return Ok(key.clone());
        }
        let pem = self
            .fetcher
            .get(cert_url)
            .await
            .map_err(SnsVerifyError::Fetch)?;
        let key = Arc::new(rsa_public_key_from_pem(&pem)?);
        self.keys
            .write()
            .await
            .insert(cert_url.to_string(), key.clone());
        Ok(key)
    }

    /// Confirms a subscription by visiting its `SubscribeURL`, which must be an SNS endpoint
    /// over HTTPS asking `Action=ConfirmSubscription` (anything else is refused unvisited).
    pub async fn confirm_subscription(&self, subscribe_url: &str) -> Result<(), SnsVerifyError> {
        if !is_trusted_subscribe_url(subscribe_url) {
            return Err(SnsVerifyError::UntrustedCertUrl(subscribe_url.to_string()));
        }
        self.fetcher
            .get(subscribe_url)
            .await
            .map(|_| ())
            .map_err(SnsVerifyError::Fetch)
    }

    /// Verifies `signature` over `string_to_sign` with the certificate at `cert_url`.
    pub async fn verify(
        &self,
        cert_url: &str,
        version: SnsSignatureVersion,
        string_to_sign: &str,
        signature: &[u8],
    ) -> Result<(), SnsVerifyError> {
        if !is_trusted_cert_url(cert_url) {
            return Err(SnsVerifyError::UntrustedCertUrl(cert_url.to_string()));
        }
        let key = self.public_key(cert_url).await?;
        verify_rsa(&key, version, string_to_sign.as_bytes(), signature)
    }
}

/// The PKCS#1 RSAPublicKey DER of the certificate in `pem`.
pub fn rsa_public_key_from_pem(pem: &[u8]) -> Result<Vec<u8>, SnsVerifyError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| SnsVerifyError::BadCertificate(format!("not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| SnsVerifyError::BadCertificate(format!("not X.509: {e}")))?;
    let spki = cert.public_key();
    // rsaEncryption
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return Err(SnsVerifyError::BadCertificate("the key is not RSA".into()));
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// Verifies an RSA PKCS#1 v1.5 signature with a PKCS#1 RSAPublicKey DER.
pub fn verify_rsa(
    public_key_der: &[u8],
    version: SnsSignatureVersion,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SnsVerifyError> {
    use aws_lc_rs::signature::{
        RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
    };
    let result = match version {
        SnsSignatureVersion::V1 => UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            public_key_der,
        )
        .verify(message, signature),
        SnsSignatureVersion::V2 => {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der)
                .verify(message, signature)
        }
    };
    result.map_err(|_| SnsVerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_https_pem_urls_are_trusted() {
        assert!(is_trusted_cert_url(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
        ));
        assert!(is_trusted_cert_url(
            "https://sns.eu-west-2.amazonaws.com/x.pem"
        ));
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://s3.us-east-1.amazonaws.com/x.pem",
            "not a url",
        ] {
            assert!(!is_trusted_cert_url(bad), "{bad} must not be trusted");
        }
    }

    struct NeverFetch;
    impl HttpGet for NeverFetch {
        async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
            panic!("must not fetch {url}");
        }
    }

    #[tokio::test]
    async fn untrusted_urls_are_refused_before_any_fetch() {
        let v = SnsVerifier::new(NeverFetch);
        let err = v
            .verify(
                "https://evil.example/x.pem",
                SnsSignatureVersion::V1,
                "m",
                b"sig",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, SnsVerifyError::UntrustedCertUrl(_)));
    }

    /// Serves the test certificate for any URL, counting fetches.
    struct TestHttpGet(std::sync::atomic::AtomicUsize);
    impl HttpGet for TestHttpGet {
        async fn get(&self, _url: &str) -> Result<Vec<u8>, String> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(include_bytes!("../../testdata/sns-test-cert.pem").to_vec())
        }
    }

    /// Signs with SHA256withRSA (aws-lc-rs cannot sign with SHA1; the v1 case uses a signature
    /// made once with `openssl dgst -sha1 -sign`, see testdata/README.md).
    fn sign_v2(message: &str) -> Vec<u8> {
        use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
        let key =
            RsaKeyPair::from_pkcs8(include_bytes!("../../testdata/sns-test-key.pk8.der")).unwrap();
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut sig,
        )
        .unwrap();
        sig
    }

    const V1_MESSAGE: &str = include_str!("../../testdata/sns-v1-message.txt");
    const V1_SIGNATURE: &[u8] = include_bytes!("../../testdata/sns-v1-message.sig");

    const URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem";

    #[tokio::test]
    async fn good_signatures_verify_for_both_versions_and_certs_are_cached() {
        let v = SnsVerifier::new(TestHttpGet(Default::default()));
        v.verify(
            URL,
            SnsSignatureVersion::V2,
            "Message\nhello\n",
            &sign_v2("Message\nhello\n"),
        )
        .await
        .unwrap();
        v.verify(URL, SnsSignatureVersion::V1, V1_MESSAGE, V1_SIGNATURE)
            .await
            .unwrap();
        let altered_v1 = V1_MESSAGE.replace("hello", "hellO");
        assert!(matches!(
            v.verify(URL, SnsSignatureVersion::V1, &altered_v1, V1_SIGNATURE)
                .await,
            Err(SnsVerifyError::BadSignature)
        ));
        assert_eq!(v.fetcher.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn altered_messages_wrong_versions_and_garbage_signatures_fail() {
        let v = SnsVerifier::new(TestHttpGet(Default::default()));
        let sig = sign_v2("Message\nhello\n");
        let altered = v
            .verify(URL, SnsSignatureVersion::V2, "Message\nhellO\n", &sig)
            .await;
        assert!(matches!(altered, Err(SnsVerifyError::BadSignature)));
        let wrong_alg = v
            .verify(URL, SnsSignatureVersion::V1, "Message\nhello\n", &sig)
            .await;
        assert!(matches!(wrong_alg, Err(SnsVerifyError::BadSignature)));
        let garbage = v
            .verify(URL, SnsSignatureVersion::V2, "Message\nhello\n", b"xx")
            .await;
        assert!(matches!(garbage, Err(SnsVerifyError::BadSignature)));
    }

    #[test]
    fn only_sns_confirm_subscription_urls_are_visited() {
        assert!(is_trusted_subscribe_url(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=abc"
        ));
        assert!(!is_trusted_subscribe_url(
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&Token=abc"
        ));
        assert!(!is_trusted_subscribe_url(
            "https://evil.example/?Action=ConfirmSubscription"
        ));
        assert!(!is_trusted_subscribe_url(
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
        ));
    }

    #[test]
    fn garbage_certificates_are_typed_errors() {
        assert!(matches!(
            rsa_public_key_from_pem(b"hello"),
            Err(SnsVerifyError::BadCertificate(_))
        ));
    }
}
