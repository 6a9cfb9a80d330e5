"""Hisaab's AWS side as code: a CDK v2 app (see infra/app.py and docs/deploy.md)."""
