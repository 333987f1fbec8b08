"""Evaluation: metrics (pure), the 11B-vs-90B comparison (pure) and its charts."""
