//! OCI runtime: seccomp (stub; owned by the oci-config helper).
