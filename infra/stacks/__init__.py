"""The stacks, split by how long what they hold lives (see infra/app.py)."""
