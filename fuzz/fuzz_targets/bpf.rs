//! `bpf`: see `hutch::fuzzing::bpf` for the input format and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hutch::fuzzing::bpf(data));
