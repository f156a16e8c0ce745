//! Sending pre-encoded OTLP export requests over gRPC. The load generators build and encode
//! their traffic before the timed phase and only send bytes during it, so that the machine's
//! CPU goes to the server under test rather than to building protobuf messages (the load
//! generator shares the server's two cores).

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The gRPC method of an OTLP trace export.
#[allow(dead_code)]
pub const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The gRPC method of an OTLP log export.
#[allow(dead_code)]
pub const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// Requests go out as the bytes given; responses are read and dropped.
#[derive(Clone, Copy)]
struct RawCodec;

struct RawEncoder;

struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// One connection sending pre-encoded requests to one gRPC method.
pub struct RawClient {
    grpc: tonic::client::Grpc<Channel>,
    method: PathAndQuery,
}

impl RawClient {
    /// Connects to `endpoint` (`http://host:port`) for `method` (e.g. [`TRACE_EXPORT`]).
    pub async fn connect(endpoint: String, method: &'static str) -> Self {
        let channel = Channel::from_shared(endpoint)
            .expect("a valid endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            grpc: tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20),
            method: PathAndQuery::from_static(method),
        }
    }

    /// Sends one encoded request, retrying after 50 ms while the server throttles
    /// (RESOURCE_EXHAUSTED or UNAVAILABLE); returns how many times it was throttled.
    pub async fn export(&mut self, body: &Bytes) -> u64 {
        let mut throttled = 0;
        loop {
            self.grpc.ready().await.expect("connection ready");
            let request = tonic::Request::new(body.clone());
            match self
                .grpc
                .unary(request, self.method.clone(), RawCodec)
                .await
            {
                Ok(_) => return throttled,
                Err(status)
                    if matches!(status.code(), Code::ResourceExhausted | Code::Unavailable) =>
                {
                    throttled += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) => panic!("export failed: {status}"),
            }
        }
    }
}
