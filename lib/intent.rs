//! Reply interpretation (placeholder until the rules land).
