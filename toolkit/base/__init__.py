"""The foundation every layer may use: exceptions, paths, the phase model."""
