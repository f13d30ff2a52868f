//! hutch as an OCI runtime (`hutch oci COMMAND`, or the binary under the name `hutch-oci`):
//! the commands podman, conmon and containerd call (issue 18).

pub mod hooks;
pub mod resources;
pub mod seccomp;
pub mod unsupported;
