"""The REST gateway: Envoy's gRPC-JSON transcoder config, generated from the contract."""
