//! Words every stage shares: capture time, the hasher of the connection tables, and
//! text validated once.

pub mod hash;
pub mod time;
pub mod utf8;
