//! Words every stage shares: capture time and the hasher of the connection tables.

pub mod hash;
pub mod time;
