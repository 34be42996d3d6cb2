"""Soak and chaos runs: the real daemon, the simulator and Redis as separate processes.

``python -m server.soak run --rate 30 --agents 300 --duration 600 --seed 1``
    a private redis-server, the Asterisk simulator (``python -m server.sim`` in
    traffic mode) and the daemon (``python -m server.soak.daemon``: ``server run``
    allowing cheap PINs, on a generated config) over loopback TCP; agents sign in
    over the HTTP API; the daemon's RSS and CPU are sampled from /proc; at the
    end the records in Redis are checked against the callers the simulator let in.

``python -m server.soak chaos --duration 300 --seed 1``
    the same, plus kill -9 and restart of the daemon, cuts of the AMI link (a
    TCP proxy of ours between daemon and simulator closes its connections) and
    kill + restart of Redis on the same port and AOF directory, at seeded random
    moments; then the invariants (every caller accounted for exactly once, no
    record duplicated, no agent stuck).

Modules: :mod:`.config` writes the config, :mod:`.procs` runs the processes and
the proxy, :mod:`.check` reads the records and judges them, :mod:`.runner`
drives a run.
"""
