"""Presentation: figures (plotting), sentences (narrative, messages) and the one number formatter
(format)."""
