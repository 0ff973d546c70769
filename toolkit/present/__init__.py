"""Presentation: figures (plotting), sentences (narrative) and, later, the one number formatter."""
