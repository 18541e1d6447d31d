"""Policy packs (issue 19): the numbers of the seed documents as data, one pack per region.

``packs/`` holds the shipped pack files (TOML) and their loader, ``pack_schema`` the schema
they must satisfy, ``effective`` how a region's rules come together from its chain of packs
and the bureaus' overrides (``models``: ``policy_override``), ``service`` and ``router`` the
override routes and the effective pack a bureau reads.
"""
