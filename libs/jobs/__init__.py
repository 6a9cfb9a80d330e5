"""Background work: the worker runtime, schedules, the local scheduler and job messages."""
