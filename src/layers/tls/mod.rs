//! TLS decryption: a transformer layer that turns TLS records into plaintext, given the
//! secrets of an NSS key log.

pub mod crypto;
