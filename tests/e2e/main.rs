//! End-to-end tests: the real `sightline` binary, real OpenTelemetry SDK clients, real HTTP.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

mod alerts;
mod auth;
mod crash;
mod disk_full;
mod fixtures;
mod health_api;
mod health_checks;
mod ingest_errors;
mod jaeger_api;
mod logs_otlp;
mod metrics_otlp;
mod native_api;
mod ops;
mod process;
mod prometheus_remote_write;
mod sdk_clients;
mod server;
mod service_graph;
mod soak;
mod tls;
mod ui;
