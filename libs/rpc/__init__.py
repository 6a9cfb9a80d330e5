"""gRPC plumbing shared by every service: method options, the server pipeline, peer channels."""
