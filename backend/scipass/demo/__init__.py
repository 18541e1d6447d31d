"""Demo data for ``scipass demo``: the seed documents' regions, their schools and venues."""
