"""Bearer-token verification and the caller of the current RPC."""
