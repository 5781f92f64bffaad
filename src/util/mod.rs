//! Words every stage shares: capture time, the hasher of the connection tables, text
//! validated once, and the Community ID of a connection.

pub mod community_id;
pub mod hash;
pub mod time;
pub mod utf8;
