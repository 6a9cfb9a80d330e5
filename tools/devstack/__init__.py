"""The local stack behind ``make run`` and the test fixtures.

PostgreSQL, Valkey, an AWS emulator, every service and Envoy, each
started by one small module here and wired together by :class:`stack.Stack`::

    with Stack(tmp_dir, ports=free_ports(), database="hisaab_test") as stack:
        httpx.get(stack.rest_url + "/v1/...")
        stack.valkey.stop(); ...; stack.valkey.start()   # Redis down, then back
"""
