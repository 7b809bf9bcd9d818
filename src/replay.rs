//! `funcmesh replay`: captured traffic sent again, answers compared.
