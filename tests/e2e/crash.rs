//! Durability: what the server acknowledged survives `kill -9`, many times over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::server::TestServer;

#[test]
fn acknowledged_exports_survive_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let seed = Arc::new(AtomicU64::new(1));
    for round in 0..3 {
        // A small flush threshold makes the crash land around flushes too.
        let mut server = TestServer::start_in(temp.path(), &["--flush-max-spans", "40"]);
        let url = server.otlp_url("/v1/traces");
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (client, url, stop, acknowledged, seed) = (
                    client.clone(),
                    url.clone(),
                    stop.clone(),
                    acknowledged.clone(),
                    seed.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let trace_id = trace_id_hex(seed.fetch_add(1, Ordering::Relaxed));
                        let body = single_span(
                            &trace_id,
                            "0102030405060708",
                            "crash-test",
                            "write",
                            now_nanos(),
                        );
                        match client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                        {
                            Ok(response) if response.status() == 200 => {
                                acknowledged.lock().unwrap().push(trace_id)
                            }
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 300 * round));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }

        let server = TestServer::start_in(temp.path(), &["--flush-max-spans", "40"]);
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(
            acknowledged.len() > 10,
            "round {round}: only {} exports acknowledged",
            acknowledged.len()
        );
        for trace_id in &acknowledged {
            let url = server.url(&format!("/api/v1/traces/{trace_id}?format=otlp"));
            let response = client.get(&url).send().unwrap();
            assert_eq!(
                response.status(),
                200,
                "round {round}: acknowledged trace {trace_id} lost after kill -9"
            );
        }
        let listed = client
            .get(server.url("/jaeger/api/services"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(listed.contains("crash-test"), "{listed}");
        drop(server);
    }
}
