"""Input: the engagement YAML, reading and checking exports, the canonical tables."""
