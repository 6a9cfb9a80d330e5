"""The local stack behind ``make run`` and the test fixtures.

PostgreSQL, Valkey, an AWS emulator, every implemented service and Envoy, each
started by one small module here and wired together by :class:`stack.Stack`.
"""
