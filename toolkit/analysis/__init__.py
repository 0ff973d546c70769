"""Analysis: the diagnosis (low-hanging fruit), improvement (what-if, tests), steering, planning."""
