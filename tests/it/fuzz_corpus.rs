//! Replays the committed fuzz corpora through the same checks the fuzz
//! targets run, so `cargo test` covers every seed and every past crash.

use std::fs;
use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    assert!(
        !entries.is_empty(),
        "corpus {} has no seeds: the replay would prove nothing",
        dir.display()
    );
    for path in entries {
        let data = fs::read(&path).expect("readable corpus file");
        run(&data);
    }
}

/// Split helpers the checks share, at the same path as in the fuzz crate.
#[path = "../../fuzz/src/split.rs"]
mod split;

macro_rules! corpus_tests {
    ($($target:ident => $check:literal),* $(,)?) => {
        $(
            #[path = $check]
            pub(crate) mod $target;
        )*

        $(
            #[test]
            fn $target() {
                replay(stringify!($target), $target::run);
            }
        )*
    };
}

corpus_tests!(
    frame_decode => "../../fuzz/src/frame_decode.rs",
    utf8 => "../../fuzz/src/utf8.rs",
    chunked => "../../fuzz/src/chunked.rs",
    response_head => "../../fuzz/src/response_head.rs",
    request_head => "../../fuzz/src/request_head.rs",
    server_stream => "../../fuzz/src/server_stream.rs",
    client_stream => "../../fuzz/src/client_stream.rs",
    pair_ops => "../../fuzz/src/pair_ops.rs",
    proxy_response => "../../fuzz/src/proxy_response.rs",
    socks5_reply => "../../fuzz/src/socks5_reply.rs",
    pieces => "../../fuzz/src/pieces.rs",
    h3_headers => "../../fuzz/src/h3_headers.rs",
);

#[cfg(feature = "deflate")]
corpus_tests!(deflate_stream => "../../fuzz/src/deflate_stream.rs");
