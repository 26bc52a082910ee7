"""Simulated 3D indoor scenes with exact metric ground truth."""
