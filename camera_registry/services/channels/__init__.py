"""Reaching owners where they answer: Zalo ZNS and SMS brandname gateways (issue 13, docs/channels.md).

Framework-free: each provider module speaks its provider's own protocol and
turns every answer into an Outcome and every delivery callback into a Receipt
(base.py); templates.py holds the one registry of message kinds, phones.py
the Vietnamese mobile numbers they go to, quiet_hours.py when they may go.
"""
