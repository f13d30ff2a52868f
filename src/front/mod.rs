//! The front end: the command line (bwrap's grammar, `--args` splicing) and profiles
//! become a Spec; the docs are generated from the flag table; `--explain` prints the Plan.

pub mod cli;
pub(crate) mod docs;
pub mod explain;
pub(crate) mod flags;
#[doc(hidden)]
pub mod fuzzing;
pub mod profile;
