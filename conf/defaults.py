"""The one definition of each default that more than one module needs (cluster.yaml's defaults come from here).

A module that takes one of these as a parameter names the constant, never the number: change it here and
cluster.yaml's documentation (docs/CONFIGURATION.md, generated from conf/specs.py) follows.
"""
KEY_PREFIX = "nugo"        # prefix of every Redis key of a cluster
LEASE_SECONDS = 15         # a lease its worker stops renewing (the worker died or hung) goes back to the queue
HEALTHY_RATIO = 0.5        # a directory run is healthy with at least this share of the live rows
TIMEZONE = "Asia/Seoul"    # dates and schedules (conf.timezone.SEOUL)
