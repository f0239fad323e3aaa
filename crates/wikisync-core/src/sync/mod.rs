//! What an incoming notification does, roles per namespace, and the draft-lock protocol.
