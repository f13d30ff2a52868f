//! OCI runtime: unsupported (stub; owned by the oci-config helper).
