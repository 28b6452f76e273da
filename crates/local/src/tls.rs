//! A throwaway certificate authority for a secured local cluster: one CA, one broker
//! certificate for `127.0.0.1` and `localhost`, and client certificates on demand (mutual
//! TLS), all PEM (Kafka reads them with `ssl.keystore.type=PEM`, librdkafka natively).
//!
//! Layout of the `tls/` directory of a cluster:
//! - `ca.pem` (the trust anchor clients are given), `ca.key` (kept to sign client certs),
//! - `broker.pem` (key and certificate chain in one file, as Kafka's PEM key store takes it),
//! - `<user>.crt` / `<user>.key` / `<user>.pem` (key + chain) per client certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

use crate::{io_err, LocalError, Result};

fn tls_err(what: &str) -> impl FnOnce(rcgen::Error) -> LocalError + '_ {
    move |e| LocalError::Tls {
        what: what.to_string(),
        detail: e.to_string(),
    }
}

/// The files of one client identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate (PEM), signed by the cluster's CA; its subject is `CN=<user>`.
    pub certificate: PathBuf,
    /// The unencrypted PKCS#8 private key (PEM).
    pub key: PathBuf,
    /// Key and certificate in one file: Java's `ssl.keystore.type=PEM` `ssl.keystore.location`.
    pub keystore: PathBuf,
}

const LOCAL_CA: &str = "metricpipe local CA";

fn ca_params(cn: &str) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err("CA params"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io_err(format!("writing {}", path.display())))
}

/// A self-signed CA that signs nothing of this cluster: what a client trusting the wrong
/// authority holds (the "untrusted certificate" failure).
pub fn foreign_ca_pem() -> Result<String> {
    let key = KeyPair::generate().map_err(tls_err("a key"))?;
    let cert = ca_params("metricpipe foreign CA")?
        .self_signed(&key)
        .map_err(tls_err("the foreign CA"))?;
    Ok(cert.pem())
}

/// Make `dir` (created) hold a new CA and a broker certificate for 127.0.0.1/localhost.
pub(crate) fn make_authority(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let ca_key = KeyPair::generate().map_err(tls_err("the CA key"))?;
    let ca = ca_params(LOCAL_CA)?
        .self_signed(&ca_key)
        .map_err(tls_err("the CA certificate"))?;
    write(&dir.join("ca.pem"), &ca.pem())?;
    write(&dir.join("ca.key"), &ca_key.serialize_pem())?;
    let broker = sign_leaf(dir, "broker", true)?;
    // Kafka's PEM key store wants the key and the chain in the one file it is given.
    let text = std::fs::read_to_string(&broker.keystore)
        .map_err(io_err(format!("reading {}", broker.keystore.display())))?;
    write(&dir.join("broker.pem"), &text)
}

/// Issue a certificate with subject `CN=<name>` from the CA in `dir` (also valid as a
/// server certificate for 127.0.0.1/localhost when `server` is true).
pub(crate) fn sign_leaf(dir: &Path, name: &str, server: bool) -> Result<ClientCert> {
    let read = |f: &str| {
        let p = dir.join(f);
        std::fs::read_to_string(&p).map_err(io_err(format!("reading {}", p.display())))
    };
    let ca_key = KeyPair::from_pem(&read("ca.key")?).map_err(tls_err("the CA key"))?;
    // Signing needs the issuer's name and key only: the same parameters and key give the
    // same subject and key identifier as the `ca.pem` that clients trust.
    let ca = ca_params(LOCAL_CA)?
        .self_signed(&ca_key)
        .map_err(tls_err("the CA certificate"))?;

    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err("params"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    if server {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
        params.subject_alt_names = vec![
            SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into().map_err(tls_err("a SAN"))?),
        ];
    }
    let key = KeyPair::generate().map_err(tls_err("a key"))?;
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .map_err(tls_err("a certificate"))?;
    let out = ClientCert {
        certificate: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
        keystore: dir.join(format!("{name}.pem")),
    };
    write(&out.certificate, &cert.pem())?;
    write(&out.key, &key.serialize_pem())?;
    write(
        &out.keystore,
        &format!("{}{}", key.serialize_pem(), cert.pem()),
    )?;
    Ok(out)
}
