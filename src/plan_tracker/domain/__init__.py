"""The pure domain: plan schema, calendar, periods, obligations, lights, escalation.

Nothing in this package performs I/O, reads the clock or imports an adapter.
"""
