"""OpenTelemetry metrics of every process: the instruments (``libs.metrics.instruments``),
their export (``libs.metrics.export``) and the per-RPC recorder (``libs.metrics.rpc``).

The names are listed in docs/observability.md; the CloudWatch alarms of
infra/stacks/observability.py use them. Instruments are taken from the global meter
provider, so code that records before (or without) ``export.setup`` records into a no-op.
"""
