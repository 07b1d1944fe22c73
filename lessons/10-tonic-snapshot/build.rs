//! Generates the gRPC service `snapshots.Feed` from a description in Rust:
//! no `.proto` file, no `protoc`, no prost. `tonic_build::manual` writes the
//! server trait (`Feed`), the server (`FeedServer`) and the client
//! (`FeedClient`) into `OUT_DIR`, and `src/wire.rs` includes them. The
//! messages and their codec are ours, in `src/wire.rs`.

fn main() {
    let subscribe = tonic_build::manual::Method::builder()
        .name("subscribe")
        .route_name("Subscribe")
        .input_type("crate::Subscription")
        .output_type("crate::Snapshot")
        .codec_path("crate::wire::WireCodec")
        // One request, a stream of responses.
        .server_streaming()
        .build();
    let feed = tonic_build::manual::Service::builder()
        .name("Feed")
        .package("snapshots")
        .method(subscribe)
        .build();
    tonic_build::manual::Builder::new().compile(&[feed]);
    // The service depends on this file alone. Without this line cargo runs
    // the script again whenever any file of the package changes: on every
    // save of src/lib.rs.
    println!("cargo::rerun-if-changed=build.rs");
}
