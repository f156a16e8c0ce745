//! TLS end to end: a test CA and a certificate for 127.0.0.1 made here with `openssl`, `server.tls_cert_file`/`tls_key_file` set, and every listener answering only
//! TLS: the query API and OTLP/HTTP over HTTPS, OTLP/gRPC over HTTP/2 with TLS (a tonic client
//! with a rustls connector).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::server::TestServer;

/// Makes a test CA and, signed by it, `cert.pem` and `key.pem` for 127.0.0.1 in `dir`;
/// returns the CA's PEM (what clients trust).
fn make_certificate(dir: &Path) -> Vec<u8> {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl (Debian package openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-days",
                "2",
                "-subj",
                "/CN=sightline test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    std::fs::read(dir.join("ca.pem")).unwrap()
}

/// The gRPC status code of a raw export over TLS trusting `cert_pem` (Ok when accepted).
fn grpc_over_tls(address: std::net::SocketAddr, cert_pem: &[u8]) -> tonic::Code {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(cert_pem) {
        roots.add(cert).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap();
        let channel = endpoint
            .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                let connector = connector.clone();
                async move {
                    let tcp = tokio::net::TcpStream::connect(address).await?;
                    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                    let tls = connector.connect(name, tcp).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
                }
            }))
            .await
            .unwrap();
        match TraceServiceClient::new(channel)
            .export(ExportTraceServiceRequest::default())
            .await
        {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    })
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_listener_speaks_tls_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert_pem = make_certificate(dir.path());
    let config_path = dir.path().join("sightline.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\ntls_cert_file = {:?}\ntls_key_file = {:?}\n",
            dir.path().join("cert.pem").display().to_string(),
            dir.path().join("key.pem").display().to_string()
        ),
    )
    .unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert_pem).unwrap())
        .build()
        .unwrap();
    let config_arg = config_path.display().to_string();
    let server = TestServer::start_tls_in(
        &dir.path().join("data"),
        &["--config", config_arg.as_str()],
        client.clone(),
    );
    assert!(server.url("/readyz").starts_with("https://"));

    // OTLP/HTTP over HTTPS, then the trace through the HTTPS query API.
    let trace_id = trace_id_hex(7);
    let body = single_span(
        &trace_id,
        "00f067aa0ba902b7",
        "secure",
        "GET /",
        now_nanos() - 60_000_000_000,
    );
    let response = client
        .post(server.otlp_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace = client
        .get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .send()
        .unwrap();
    assert_eq!(trace.status(), 200);

    // OTLP/gRPC over TLS.
    assert_eq!(grpc_over_tls(server.grpc, &cert_pem), tonic::Code::Ok);

    // Plain HTTP gets nowhere, and a client that does not trust the certificate neither.
    let plain = reqwest::blocking::get(format!("http://{}/readyz", server.http));
    assert!(plain.map_or(true, |response| !response.status().is_success()));
    assert!(reqwest::blocking::get(server.url("/readyz")).is_err());
}
