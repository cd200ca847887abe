"""Konsil: an open-source platform for medical second opinions."""

__version__ = "0.1.0"
