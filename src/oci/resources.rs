//! OCI runtime: resources (stub; owned by the oci-config helper).
