//! The `deflate_64KiB` group on its own:
//! `cargo bench --features deflate --bench deflate`.

#[path = "groups/deflate.rs"]
mod deflate;

criterion::criterion_group!(benches, deflate::deflate_64kib);
criterion::criterion_main!(benches);
