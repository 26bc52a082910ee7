"""End-to-end pipelines that chain the areas (simulation, training, evaluation, report): the quickstart's stages."""
