"""Evaluation harness: benchmark registry, loaders, answer extraction, backends, metrics, reports."""
