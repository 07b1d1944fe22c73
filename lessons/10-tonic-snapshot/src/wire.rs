//! The wire side of the feed: the two messages, their codec, and the service
//! code that `build.rs` generates. Nothing in this file is part of the
//! exercise: keep it as it is (the checks' client and server use it).
//!
//! gRPC does not require protobuf. A method's messages go through a `Codec`
//! of the service's choosing, and this one writes them by hand: a
//! subscription is its device name in UTF-8, a snapshot is its `seq`
//! (a big-endian `u64`) followed by its payload. tonic frames each message
//! (a compression flag and a 4-byte length) and sends it on HTTP/2.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

// ANCHOR: messages
/// The request: which device to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub device: String,
}

/// One response: a record of the device, numbered from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The position of the record in the subscription, from 0.
    pub seq: u64,
    /// The record's bytes.
    pub payload: Bytes,
}
// ANCHOR_END: messages

/// A message this service sends or receives, and how it looks on the wire.
pub trait Message: Sized + Send + 'static {
    fn encode(self, dst: &mut EncodeBuf<'_>);
    fn decode(src: &mut DecodeBuf<'_>) -> Result<Self, Status>;
}

impl Message for Subscription {
    fn encode(self, dst: &mut EncodeBuf<'_>) {
        dst.put_slice(self.device.as_bytes());
    }

    fn decode(src: &mut DecodeBuf<'_>) -> Result<Self, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        let device = String::from_utf8(bytes.into())
            .map_err(|_| Status::invalid_argument("the device name is not UTF-8"))?;
        Ok(Subscription { device })
    }
}

impl Message for Snapshot {
    fn encode(self, dst: &mut EncodeBuf<'_>) {
        dst.put_u64(self.seq);
        // The one copy a snapshot costs on its way out: into tonic's
        // encode buffer, which becomes HTTP/2 DATA frames.
        dst.put_slice(&self.payload);
    }

    fn decode(src: &mut DecodeBuf<'_>) -> Result<Self, Status> {
        if src.remaining() < 8 {
            return Err(Status::internal("a snapshot shorter than its seq"));
        }
        let seq = src.get_u64();
        // A view of tonic's receive buffer, not a copy.
        let payload = src.copy_to_bytes(src.remaining());
        Ok(Snapshot { seq, payload })
    }
}

/// The codec of `snapshots.Feed`: encodes `E`, decodes `D`. The generated
/// server uses `WireCodec<Snapshot, Subscription>`, the generated client
/// `WireCodec<Subscription, Snapshot>` (both by `Default`).
pub struct WireCodec<E, D>(PhantomData<fn(E) -> D>);

impl<E, D> Default for WireCodec<E, D> {
    fn default() -> Self {
        WireCodec(PhantomData)
    }
}

impl<E: Message, D: Message> Codec for WireCodec<E, D> {
    type Encode = E;
    type Decode = D;
    type Encoder = WireEncoder<E>;
    type Decoder = WireDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        WireEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireDecoder(PhantomData)
    }
}

pub struct WireEncoder<E>(PhantomData<fn(E)>);

impl<E: Message> Encoder for WireEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst);
        Ok(())
    }
}

pub struct WireDecoder<D>(PhantomData<fn() -> D>);

impl<D: Message> Decoder for WireDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        D::decode(src).map(Some)
    }
}

// The service code tonic-build wrote from build.rs: the `Feed` trait that
// `SnapshotFeed` implements, `FeedServer` and `FeedClient`.
include!(concat!(env!("OUT_DIR"), "/snapshots.Feed.rs"));
