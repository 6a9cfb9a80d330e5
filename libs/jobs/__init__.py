"""Workers: processes that are not a service's RPCs, each with its own entry point.

``python -m libs.jobs.outbox_relay`` publishes the outbox, ``python -m libs.jobs.scheduler``
drops job messages locally (EventBridge Scheduler in AWS); ``runtime`` gives every worker
(the notification worker too) its heartbeat and graceful stop; the schedules, cron
rules, job messages and the nightly analytics export live beside them."""
