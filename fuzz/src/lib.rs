//! The checks behind each fuzz target. Each module's `run` is shared with
//! `tests/it/fuzz_corpus.rs`, which replays the committed corpora under `cargo test`.
pub mod chunked;
pub mod client_stream;
pub mod deflate_stream;
pub mod frame_decode;
pub mod h3_headers;
pub mod pair_ops;
pub mod pieces;
pub mod proxy_response;
pub mod request_head;
pub mod response_head;
pub mod server_stream;
pub mod socks5_reply;
pub mod split;
pub mod utf8;
