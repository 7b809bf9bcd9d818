//! Requests copied from a Func's queue on a broker into a capture file.
