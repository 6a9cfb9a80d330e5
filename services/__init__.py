"""The six Hisaab services; each is ``python -m services.<name>``."""
