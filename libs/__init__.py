"""Hisaab shared service kit: what every service uses, written once."""
