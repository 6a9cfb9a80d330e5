"""Clients of other services that more than one service uses: group-service's rosters
(cached), pricing-service's feature gate and quota counter, auth-service's user
directory. Each service's own ``peers.py`` adapts them to its ports."""
