"""The bottom layer: small shared helpers every app may import.

It imports no app of this project (an import-linter contract checks it): money and
rounding, Stripe key modes, the outbound HTTP client and its address guard, the
hot-path SQL helpers, periodic-task scheduling, environment parsing.
"""
