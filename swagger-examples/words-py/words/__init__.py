"""The words bundle: English inflections of words, as funcmesh functions.

The functions live in :mod:`words.api`; the OpenAPI description names them
``words.api.<function>``.
"""
