"""Test helpers shared across the suite's folders."""
