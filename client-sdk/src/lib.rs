//! Generated client SDK (see README).
