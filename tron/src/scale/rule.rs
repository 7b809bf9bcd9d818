//! The scaling rule (being written).
