"""Editions of the administrative units: reading them, and loading a later one over the registry."""

from .loading import EditionReport, load_edition
from .reader import BUNDLED_EDITION, Edition, EditionError, UnitRecord, read_edition

__all__ = ["BUNDLED_EDITION", "Edition", "EditionError", "EditionReport", "UnitRecord", "load_edition", "read_edition"]
