#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsmachine_fuzz::h3_headers::run(data));
