//! Compiles proto/audex/v1/*.proto with protox (pure Rust, no system protoc),
//! then generates prost types, the tonic EventService (client and server, with
//! the `grpc` feature only) and pbjson serde impls (proto3 JSON, proto field
//! names), and the event's field paths for redaction (`build/field_paths.rs`).
use std::path::PathBuf;

#[path = "build/field_paths.rs"]
mod field_paths;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        root.join("audex/v1/event.proto"),
        root.join("audex/v1/export.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root]).expect("compile proto/audex/v1");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let descriptor_path = out.join("audex_descriptor.bin");
    let bytes = prost::Message::encode_to_vec(&fds);
    println!("cargo:rerun-if-changed=build/field_paths.rs");
    std::fs::write(out.join("field_paths.rs"), field_paths::generate(&fds)).unwrap();
    std::fs::write(&descriptor_path, &bytes).unwrap();

    let mut cfg = prost_build::Config::new();
    cfg.btree_map(["."]);
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc)
        .extern_path(".google.protobuf.Timestamp", "::pbjson_types::Timestamp")
        .compile_fds_with_config(fds, cfg)
        .expect("generate prost types and the EventService");

    pbjson_build::Builder::new()
        .register_descriptors(&bytes)
        .unwrap()
        .preserve_proto_field_names()
        .extern_path(".google.protobuf.Timestamp", "::pbjson_types::Timestamp")
        .btree_map(["."])
        .build(&[".audex"])
        .unwrap();
}
