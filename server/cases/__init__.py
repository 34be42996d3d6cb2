"""Service cases (工单) at the edge: the Redis store and the service the adapter and web call.

The rules and the state machine are pure, in the top-level ``cases`` package.
"""
