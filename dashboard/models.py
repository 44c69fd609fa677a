"""The dashboard has no tables of its own; it reads incidents through dashboard.selectors."""
