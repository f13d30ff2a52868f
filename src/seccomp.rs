//! Seccomp programs given as raw classic BPF (`--seccomp FD`, `--add-seccomp-fd FD`).

use std::io::Read;
use std::os::fd::RawFd;

use crate::error::{Error, Result};
use crate::sys;

/// One validated program: `struct sock_filter[]` as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program(Vec<u8>);

impl Program {
    /// Validate raw bytes: a whole number of 8-byte instructions, at least one.
    pub fn from_bytes(data: Vec<u8>) -> Result<Program> {
        if data.is_empty() || data.len() % 8 != 0 {
            return Err(Error::msg("Invalid seccomp data, must be multiple of 8"));
        }
        if data.len() / 8 > u16::MAX as usize {
            return Err(Error::msg("Invalid seccomp data, too many instructions"));
        }
        Ok(Program(data))
    }

    /// Read a program from an inherited fd (which is consumed).
    pub fn read_fd(fd: RawFd) -> Result<Program> {
        let file = sys::take_fd(fd).map_err(|e| Error::io("Can't read seccomp data", e))?;
        let mut data = Vec::new();
        std::fs::File::from(file)
            .read_to_end(&mut data)
            .map_err(|e| Error::io("Can't read seccomp data", e))?;
        Program::from_bytes(data)
    }

    pub fn install(&self) -> Result<()> {
        sys::seccomp_install(&self.0).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::msg("Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) reported EINVAL. (Hint: this requires a kernel configured with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.)")
            } else {
                Error::io("prctl(PR_SET_SECCOMP)", e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_must_be_a_multiple_of_8() {
        assert!(Program::from_bytes(vec![0; 7]).is_err());
        assert!(Program::from_bytes(vec![]).is_err());
        assert_eq!(
            Program::from_bytes(vec![0; 12]).unwrap_err().to_string(),
            "Invalid seccomp data, must be multiple of 8"
        );
        assert!(Program::from_bytes(vec![0; 16]).is_ok());
    }
}
