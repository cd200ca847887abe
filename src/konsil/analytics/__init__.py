"""Analytics: measures of volume, turnaround, outcomes and access over a per-case fact table (see rollup.py)."""
