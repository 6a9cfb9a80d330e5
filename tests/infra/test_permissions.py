"""The declared AWS call table (infra/permissions.py) matches the code, both ways."""

from __future__ import annotations

import ast
import textwrap

import pytest

from infra import code_calls, permissions
from libs.catalog import SERVICES, WORKERS


@pytest.mark.parametrize("workload", sorted(permissions.ENTRY_MODULES))
def test_declared_calls_are_the_calls_the_code_makes(workload: str) -> None:
    found = code_calls.calls(permissions.ENTRY_MODULES[workload])
    declared = {(c.service, c.operation) for c in permissions.CALLS[workload]}
    assert sorted(found - declared) == [], "calls missing from infra/permissions.py CALLS"
    assert sorted(declared - found) == [], "CALLS lists calls the code no longer makes"


def test_every_deployed_workload_has_an_entry() -> None:
    deployed = {s.name for s in SERVICES} | {w.name for w in WORKERS if not w.local_only} | {"migrations"}
    assert set(permissions.CALLS) == deployed == set(permissions.ENTRY_MODULES)
    assert all(c.resource in permissions.RESOURCES for calls in permissions.CALLS.values() for c in calls)


def _calls_in(source: str) -> set[tuple[str, str]]:
    finder = code_calls._Finder("example")
    finder.visit(ast.parse(textwrap.dedent(source)))
    return finder.found


def test_the_scanner_sees_direct_calls_references_and_the_dispatcher() -> None:
    source = """
        async def f(self, s3, sqs):
            s3.put_object(Bucket="b")
            await asyncio.to_thread(self._sqs.delete_message, QueueUrl="q")
            await self._call("admin_get_user", UserPoolId="p")
            s3.generate_presigned_post("b", "k")
            self._sns.exceptions.NotFound  # not an operation
            other.publish()  # not a boto3 client
    """
    assert _calls_in(source) == {
        ("s3", "put_object"),
        ("sqs", "delete_message"),
        ("cognito-idp", "admin_get_user"),
        ("s3", "generate_presigned_post"),
    }


def test_emulator_only_functions_are_not_counted() -> None:
    finder = code_calls._Finder("libs.aws")
    finder.visit(ast.parse("def bootstrap(sns):\n    sns.create_topic(Name='x')\n"))
    assert finder.found == set()


def test_iam_actions_follow_the_method_unless_mapped() -> None:
    assert permissions.iam_action(permissions.Call("sqs", "change_message_visibility", "jobs_queue")) == (
        "sqs:ChangeMessageVisibility"
    )
    assert permissions.iam_action(permissions.Call("s3", "head_object", "receipts_bucket")) == "s3:GetObject"
    assert permissions.iam_action(permissions.Call("cognito-idp", "initiate_auth", "user_pool")) is None
    assert permissions.grants("outbox-relay") == {"events_topic": frozenset({"sns:Publish"})}
