"""Readers, question generators, curation and export of spatial VQA data (STVQA schema)."""
