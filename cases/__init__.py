"""95598 service cases (工单): the case value, its state machine, deadlines and 催办.

Pure like ``queues/`` and ``ivr/``: the standard library only (and the ACD's
``BusinessHours`` value from ``queues.model``), an injected ``now`` on every call,
no Twisted, Redis or HTTP.  ``server/cases/`` stores cases and runs the tick.
"""
