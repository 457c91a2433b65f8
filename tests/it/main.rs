//! The core's integration tests, in one binary: `cargo test --test it`,
//! and `cargo test --test it connection::closing` for one module.
//!
//! Each module below is a test file, or a folder of them (`connection/`,
//! `deflate/`, the two handshakes); the `*_props` files are the property
//! tests. What they share is in `support` (fixtures, the frame builder, the
//! in-memory `Pair` on virtual time, `feed_every_way`) and `programs` (the
//! example binaries, run bounded in time). `tests/alloc.rs` is the one
//! other test binary: it installs a counting `#[global_allocator]`, which
//! would count every test of this binary too.

// Helpers shared by the modules.
mod programs;
mod support;
// Helpers shared with the driver's tests, which include them by path.
#[path = "../fake_fuzzingserver/mod.rs"]
mod fake_fuzzingserver;
#[path = "../system/mod.rs"]
mod system;
#[path = "../tinyproxy/mod.rs"]
mod tinyproxy;

mod architecture;
mod blocking_loops;
mod body_props;
mod chunked_props;
mod connection;
mod deflate;
mod examples_autobahn;
mod extensions_props;
mod frame_props;
mod fuzz_corpus;
mod h2_handshake;
mod handshake_client;
mod handshake_server;
mod handshake_timeout;
mod head_props;
mod interop_scripts;
mod mask_props;
mod message_props;
mod ordered_effects;
mod pair_props;
mod pending_output;
mod pieces_props;
mod proxy_client;
mod proxy_props;
mod proxy_tinyproxy;
mod receive_props;
mod smoke;
mod socks5_props;
mod upgraded;
mod utf8_props;
mod write_props;
