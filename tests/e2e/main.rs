//! End-to-end tests: the real `sightline` binary, real OpenTelemetry SDK clients, real HTTP.

mod crash;
mod fixtures;
mod ingest_errors;
mod jaeger_api;
mod native_api;
mod sdk_clients;
mod server;
