//! Go `text/template` for rule annotations and notification messages
//! (being written).
