//! OCI runtime: hooks (stub; owned by the oci-config helper).
