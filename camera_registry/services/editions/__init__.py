"""Editions of the administrative units: reading them, and loading a later one over the registry."""
