"""The functions of the {{name}} bundle."""
