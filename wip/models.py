"""Models of the wip app."""
