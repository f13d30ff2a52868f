//! `profile`: see `hutch::fuzzing::profile` for the input format and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hutch::fuzzing::profile(data));
