"""Developer tooling: code generation, the local stack, docs generators."""
