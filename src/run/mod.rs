//! The runtime: it carries out a Plan. The monitor and the child (`sandbox`), pid 1
//! (`init`), and what they report (`report`: `--info-fd`, `--json-status-fd`, `--report`).

pub(crate) mod init;
pub(crate) mod report;
pub mod sandbox;
