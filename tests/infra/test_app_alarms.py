"""Alarms on the kit's own metrics: the outbox's oldest-event age and each consumer's queue lag,
under the names, namespace and dimensions the collector's EMF exporter writes."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from libs import catalog
from libs.metrics import names
from tests.infra.conftest import CASES, Synthesized

Synth = dict[tuple[str, int], Synthesized]


def _app_alarms(synthesized: Synth, env: str, phase: int) -> list[dict[str, Any]]:
    stack = synthesized[(env, phase)].deployment.observability
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    return [a["Properties"] for a in alarms if a["Properties"].get("Namespace") == names.NAMESPACE]


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_outbox_age_and_every_queue_lag_alarm_to_the_topic(synthesized: Synth, env: str, phase: int) -> None:
    alarms = _app_alarms(synthesized, env, phase)
    outbox = [a for a in alarms if a["MetricName"] == names.OUTBOX_OLDEST_AGE]
    assert len(outbox) == 1
    assert _dimensions(outbox[0]) == {names.SERVICE: names.OUTBOX_RELAY}
    lags = {
        (_dimensions(a)[names.SERVICE], _dimensions(a)[names.QUEUE])
        for a in alarms
        if a["MetricName"] == names.QUEUE_LAG
    }
    assert lags == set(names.QUEUE_CONSUMERS)
    for alarm in alarms:
        assert alarm["Statistic"] == "Maximum" and alarm["Period"] == 60
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] > 0
        # A relay or consumer that stopped reporting is as bad as one that is behind.
        assert alarm["TreatMissingData"] == "breaching"
        assert len(alarm["AlarmActions"]) == 1


def test_the_alarmed_processes_are_the_workers_the_chart_runs() -> None:
    processes = {f"hisaab-{w.name}" for w in catalog.WORKERS if not w.local_only}
    assert names.OUTBOX_RELAY in processes
    assert {process for process, _ in names.QUEUE_CONSUMERS} <= processes
