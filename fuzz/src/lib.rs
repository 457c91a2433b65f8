//! The checks behind each fuzz target. Each module's `run` is shared with
//! `tests/fuzz_corpus.rs`, which replays the committed corpora under `cargo test`.
pub mod frame_decode;
pub mod utf8;
pub mod chunked;
pub mod response_head;
pub mod request_head;
pub mod server_stream;
pub mod client_stream;
pub mod pair_ops;
pub mod deflate_stream;
pub mod proxy_response;
pub mod split;
